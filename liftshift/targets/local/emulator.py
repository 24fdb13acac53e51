"""The local rehearsal's AWS stand-in: moto in server mode, run as a background process.

Started by `liftshift ... --target local` (see local_services.py) and kept
running so later commands see the same emulated account; `liftshift local
stop` ends it. This is the only product module that imports moto.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m liftshift.targets.local.emulator")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # Roles attach AWS managed policies (AmazonSSMManagedInstanceCore); moto loads them only when asked.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
