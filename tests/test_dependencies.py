"""Which steps of a plan may run side by side (apply/dependencies.py), on plain steps and on real plans."""

from __future__ import annotations

from dataclasses import replace

from liftshift.apply.dependencies import critical_paths, dependencies
from liftshift.model import refs
from liftshift.model.refs import Refs
from liftshift.model.steps import Action, Call, Kind, Step
from liftshift.plan.phases import Phases


def step(name: str, service: str | None, params: dict | None = None, save=None, stage: int = 0) -> Step:
    call = Call("ec2", "create_tags", params or {}, save=save or {})
    return Step(Action.CREATE, Kind.SECURITY_GROUP, name, service, (call,), stage=stage)


def test_steps_of_different_services_are_independent_and_one_service_keeps_its_order():
    steps = [step("a1", "a"), step("b1", "b"), step("a2", "a"), step("b2", "b")]
    assert dependencies(steps) == [set(), set(), {0}, {1}]


def test_a_step_waits_for_the_step_that_saves_a_ref_it_reads():
    sg = refs.security_group("a")
    steps = [step("make", "a", save={sg: "GroupId"}), step("admit", "b", {"GroupId": "x", "Source": [sg]})]
    assert dependencies(steps) == [set(), {0}]


def test_refs_read_in_a_list_of_refs_count_too():
    one, two = refs.new_instances("a", "s1"), refs.new_instances("b", "s1")
    steps = [step("a", "a", save={one: "Instances"}), step("b", "b", save={two: "Instances"}),
             step("wait", "c", {"InstanceIds": Refs((one, two))})]
    assert dependencies(steps) == [set(), set(), {0, 1}]


def test_a_step_of_no_service_is_a_barrier_both_ways():
    steps = [step("a", "a"), step("b", "b"), step("all", None), step("c", "c"), step("d", "d")]
    assert dependencies(steps) == [set(), set(), {0, 1}, {2}, {2}]


def test_a_later_stage_waits_for_every_step_of_earlier_stages_but_not_for_its_own():
    steps = [step("gate a", "a", stage=2), step("gate b", "b", stage=2),
             step("switch a", "a", stage=3), step("switch b", "b", stage=3)]
    assert dependencies(steps) == [set(), set(), {0, 1}, {0, 1}]


def test_phases_number_their_stages_so_no_finish_starts_before_every_gate():
    phases = Phases(prepare=[step("launch a", "a"), step("launch b", "b")],
                    gate=[step("gate a", "a"), step("gate b", "b")],
                    finish=[step("switch a", "a"), step("drain b", "b")])
    plan = phases.plan(before=[step("role a", "a")], after=[step("remove c", "c")]).steps
    assert [s.stage for s in plan] == [0, 1, 1, 2, 2, 3, 3, 4]
    deps = dependencies(plan)
    gates = {3, 4}
    assert gates <= deps[5] and gates <= deps[6]  # both finishes wait for both gates
    assert 5 not in deps[6]  # the two finishes run side by side
    assert set(range(7)) == deps[7]  # a removed service goes after everything else
    assert plan[3] == step("gate a", "a")  # the stage is scheduling only: plans compare as before


def test_a_lane_named_by_the_planner_runs_beside_its_services_other_lanes():
    steps = [step("role", "a"), step("group", "a"), step("template", "a", stage=1)]
    steps[0] = replace(steps[0], lane="a:role")
    steps[1] = replace(steps[1], lane="a:group")
    assert dependencies(steps) == [set(), set(), {0, 1}]


def test_the_ready_step_with_the_longest_chain_behind_it_comes_first():
    long_chain = [step("repo", "a"), step("push", "a")]
    alone = step("other", "b")
    steps = [alone, *long_chain]
    assert critical_paths(steps, dependencies(steps)) == [1, 2, 1]


def test_a_real_first_deploy_plan_keeps_each_services_template_after_its_role_and_group():
    from test_plan import make_spec, desired, service_dict

    from liftshift.model.observed import Observed
    from liftshift.plan.stack import plan_stack

    want = desired(make_spec({"web": service_dict(), "api": service_dict(publish=None)}))
    plan = plan_stack(want, Observed()).steps
    deps = dependencies(plan)
    where = {(s.service, str(s.kind)): i for i, s in enumerate(plan)}
    for service in ("web", "api"):
        role, group = where[(service, "iam role")], where[(service, "security group")]
        template = where[(service, "launch template")]
        assert role not in deps[group] and group not in deps[role]  # made side by side
        assert {role, group} <= deps[template]


def test_two_fleets_gates_wait_side_by_side_and_no_listener_switches_before_both_pass():
    from test_plan import LB, desired, make_spec, service_dict

    from liftshift.model.observed import Observed
    from liftshift.plan.stack import plan_stack

    want = desired(make_spec({"web": service_dict(load_balancer=LB), "api": service_dict(load_balancer=LB)}))
    plan = plan_stack(want, Observed()).steps
    deps = dependencies(plan)
    where = {(s.service, str(s.action), str(s.kind)): i for i, s in enumerate(plan)}
    gates = {service: [where[(service, "wait", "release healthy")], where[(service, "wait", "probe")]]
             for service in ("web", "api")}
    assert not set(gates["web"]) & deps[gates["api"][0]] and not set(gates["api"]) & deps[gates["web"][0]]
    for service in ("web", "api"):
        switch = where[(service, "update", "listener")]
        assert set(gates["web"] + gates["api"]) <= deps[switch]
