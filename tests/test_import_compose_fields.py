"""`liftshift import compose` onto the app.yaml fields a compose app needs to run unchanged: several ports,
depends_on (conditions, links, dependencies inferred from hosts in env and command), aliases, secret files
and data volumes. Each case (tests/data/compose/<case>/) is imported, its warnings are found at their
compose file, line and key, and the app.yaml is read back through liftshift's spec loader. Pure.
"""

from __future__ import annotations

import json

import pytest

from liftshift.migrate.compose_storage import data_name
from liftshift.spec.load import load_spec
import test_import_compose as corpus

case = corpus.case  # the fixture of the corpus tests: a case copied into tmp_path
run = corpus.run

WARNINGS = {
    "ports-several": [(7, "services.web.ports[2]", "127.0.0.1 only (this machine): app.yaml publishes a service's "
                       "ports alike, so this one is left out"),
                      (8, "services.web.ports[3]", "UDP: app.yaml opens TCP ports only"),
                      (9, "services.web.ports[4]", "a range of ports: only its first port (9100:9100)"),
                      (18, "services.long.ports[2]", "container port 3000 is listed already"),
                      (24, "services.dns.ports[1]", "container port 53 is listed already"),
                      (30, "services.local-only.ports[1]", "imported as not published")],
    "depends-conditions": [(13, "services.api.depends_on.cache.condition", "cache has no health check"),
                           (15, "services.api.depends_on.migrate.condition", "no app.yaml equivalent"),
                           (16, "services.api.depends_on.search", "required: false")],
    "inferred": [(14, "services.api.environment.SEARCH_URL", "search:9200 -> search:19200"),
                 (15, "services.api.environment.PUBLIC_URL", "api -> web -> api")],
    "links-aliases": [(19, "services.cache.networks.back.aliases[1]", "'db' is already a name of service db")],
    "secret-files": [(21, "services.api.secrets[4].mode", "'04755' is not a file mode")],
    "data-volumes": [(6, "services.db.volumes[1]", "named `backups-2024`"),
                     (6, "services.db.volumes[1]", "read-only in compose"),
                     (16, "services.app.volumes[0]", "data volumes are for single-instance services"),
                     (20, "services.search.volumes[0]", "also mounted by indexer"),
                     (20, "services.search.volumes[0]", "driver and driver_opts"),
                     (23, "services.search.volumes[1]", "mounted a second time"),
                     (28, "services.indexer.volumes[1]", "external in compose"),
                     (29, "services.indexer.volumes[2]", "named `a_very_long_volume_name_from_som`")],
}


def imported(case, name: str):
    """Import case `name`; its findings by (line, key) and the services as liftshift's loader reads them."""
    where = case(name)
    result = run("-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    found: dict[tuple, list[str]] = {}
    for warning in data["warnings"]:
        assert warning["file"] == "compose.yaml" and warning["line"], warning
        found.setdefault((warning["line"], warning["key"]), []).append(warning["message"])
    assert (where / "app.yaml").read_text() == data["app_yaml"]
    spec, _ = load_spec(where / "app.yaml")
    return found, spec.services, data


@pytest.mark.parametrize("name", sorted(WARNINGS))
def test_each_case_warns_at_its_line_and_validates(case, name):
    found, _, _ = imported(case, name)
    for line, key, words in WARNINGS[name]:
        assert any(words in m for m in found.get((line, key), [])), (line, key, words, found)


def test_several_ports_the_first_is_the_main_one(case):
    _, services, data = imported(case, "ports-several")
    web = services["web"]
    assert (web.port, web.published_port, web.extra_ports) == (80, 8080, [(8443, 443), (53, 53), (9100, 9100)])
    assert not web.internal
    assert (services["long"].port, services["long"].extra_ports) == (3000, [(19229, 9229)])
    assert (services["dns"].port, services["dns"].extra_ports) == (53, [])
    for name in ("internal-db", "local-only"):  # expose only, or published on 127.0.0.1 only
        assert services[name].internal and len(services[name].ports) == 2
    assert data["app"]["services"]["web"]["ports"] == ["8080:80", "8443:443", 53, 9100]
    assert "port" not in data["app"]["services"]["web"]


def test_depends_on_conditions(case):
    _, services, data = imported(case, "depends-conditions")
    assert {n: s.condition for n, s in services["api"].depends_on.items()} == {
        "db": "healthy", "cache": "healthy", "migrate": "started"}
    assert list(services["web"].depends_on) == ["api"] and list(services["worker"].depends_on) == ["db", "cache"]
    assert data["app"]["services"]["web"]["depends_on"] == ["api"]  # the list form when all are started
    assert "search" not in services


def test_a_cycle_of_depends_on_exits_2_at_its_line(case):
    where = case("depends-cycle")
    result = run()
    assert result.exit_code == 2, result.output
    assert "compose.yaml:8: services.b.depends_on[0]:" in result.stderr and "b -> a -> b" in result.stderr
    assert not (where / "app.yaml").exists()


def test_dependencies_are_inferred_from_hosts_in_env_and_command(case):
    found, services, data = imported(case, "inferred")
    assert list(services["web"].depends_on) == ["api", "auth"]
    assert list(services["api"].depends_on) == ["db", "search", "cache"]  # not web: a cycle; not research
    assert list(services["worker"].depends_on) == ["db", "cache"]  # env_file's DB_HOST; `-h cache`
    assert list(services["waiter"].depends_on) == ["db"]  # `-h db` inside a shell command
    assert services["api"].env["SEARCH_URL"] == "http://search:19200"  # where search is published
    assert services["api"].env["MESSAGE"] == "the api talks to the db" and services["api"].env["NOTE"] == \
        "research:2024"
    assert services["api"].command[1] == "db:5432"  # db publishes 5432 on 5432
    text = data["app_yaml"]
    assert "- db  # inferred: env DATABASE_DSN names db as a host" in text
    assert "- cache  # inferred: command names cache as a host" in text


def test_links_and_aliases(case):
    _, services, data = imported(case, "links-aliases")
    assert list(services["app"].depends_on) == ["db", "cache"]
    assert services["db"].aliases == ["database", "pg.internal"]
    assert services["cache"].aliases == ["redis", "sessions"]  # a network alias, then the link's
    assert services["legacy-worker"].aliases == ["Legacy_Worker"]  # compose's name, as the app calls it
    assert list(services["legacy-worker"].depends_on) == ["cache"]  # named by its alias redis
    assert data["services"] == {"app": "app", "db": "db", "cache": "cache", "Legacy_Worker": "legacy-worker"}
    _, services, _ = imported(case, "unsupported")  # `links: [db]`; db's alias on a custom network
    assert list(services["app"].depends_on) == ["db"] and services["db"].aliases == ["database"]


def test_secrets_become_files_with_the_command_that_stores_them(case):
    where = case("secret-files")
    result = run("-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "not-a-real-password" not in result.stdout + (where / "app.yaml").read_text()
    api = load_spec(where / "app.yaml")[0].services["api"]
    files = {n: (f.ref, f.path, f.mode, f.uid, f.gid) for n, f in api.secret_files.items()}
    assert files == {
        "db_password": ("ssm:/shop/db_password", None, 0o444, None, None),  # compose's default mode
        "tls_key": ("ssm:/shop/tls_key", "/etc/ssl/private/api.key", 0o440, 103, 103),  # 0440: YAML 1.1 octal
        "stripe": ("ssm:/shop/stripe_key", None, 0o400, None, None),  # a relative target: /run/secrets/stripe
        "legacy_token": ("ssm:/shop/legacy_token", None, 0o440, None, None),  # 288 decimal
        "vault_token": ("ssm:/shop/vault_token", None, 0o444, None, None)}
    assert api.secret_file_path("stripe") == "/run/secrets/stripe" and not api.secrets
    assert api.env == {"DB_PASSWORD_FILE": "/run/secrets/db_password"}  # the file is where the app looks
    assert [c["command"] for c in data["commands"]] == [
        "aws ssm put-parameter --name /shop/db_password --type SecureString --value file://secrets/db_password.txt",
        "aws ssm put-parameter --name /shop/tls_key --type SecureString --value file:///etc/shop/api.key",
        'aws ssm put-parameter --name /shop/stripe_key --type SecureString --value "$STRIPE_KEY"',
        "aws ssm put-parameter --name /shop/legacy_token --type SecureString --value '<its value>'",
        "aws ssm put-parameter --name /shop/vault_token --type SecureString --value '<its value>'"]
    text = data["app_yaml"]
    assert "ref: ssm:/shop/db_password  # decide: store it first: aws ssm put-parameter" in text
    assert "# decide: external in compose (called prod_legacy_token there): point ref at" in text
    assert 'mode: "0440"' in text


def test_named_volumes_become_data_volumes_of_single_instance_services(case):
    _, services, data = imported(case, "data-volumes")
    assert {n: (d.path, d.size_gb) for n, d in services["db"].data.items()} == {
        "pgdata": ("/var/lib/postgresql/data", 10), "backups-2024": ("/backups", 10)}
    assert not services["app"].data and services["app"].instances.count == 3
    assert [(v.host, v.container) for v in services["app"].volumes] == [
        ("/var/lib/liftshift/volumes/data-volumes/uploads", "/app/uploads")]
    assert list(services["search"].data) == ["shared"]  # mounted once
    assert list(services["indexer"].data) == ["shared", "legacy", "a_very_long_volume_name_from_som"]
    assert "size_gb: 10  # decide: the volume's size in GiB" in data["app_yaml"]


@pytest.mark.parametrize("name,expected", [("pgdata", "pgdata"), ("db_data", "db_data"), ("My.Volume", "my-volume"),
                                           ("-x", "x"), ("___", ""), ("a" * 40, "a" * 32)])
def test_data_volume_names(name, expected):
    assert data_name(name) == expected
