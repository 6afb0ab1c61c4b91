"""Measure SIP parse and serialize cost on the stored sample messages.

Run: ``python bench/bench_sip_parse.py [--rounds N]``. Each sample from
``tests/sip/data`` is parsed with ``parse_message`` and serialized with
``to_bytes`` ``--rounds`` times; the best of five repeats is reported in
microseconds per message and messages per second on one core. Record the CPU
and Python version beside any result you keep: the numbers depend on both.
"""

from __future__ import annotations

import argparse
import functools
import platform
import timeit
from pathlib import Path

from tlstrunk.sip.message import parse_message

SAMPLES = ("invite_sdp", "trying_100", "ringing_180", "ok_200_sdp", "ack", "bye", "options")
DATA = Path(__file__).resolve().parents[1] / "tests" / "sip" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="parses per repeat")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()} ({platform.processor()})")
    print(f"{'message':<12} {'parse us':>9} {'parse/s':>9} {'serialize us':>13}")
    total_parse = 0.0
    for name in SAMPLES:
        data = (DATA / f"{name}.sip").read_bytes()
        message = parse_message(data)
        parse = min(
            timeit.repeat(functools.partial(parse_message, data), number=args.rounds, repeat=5)
        )
        serialize = min(timeit.repeat(message.to_bytes, number=args.rounds, repeat=5))
        parse_us = parse / args.rounds * 1e6
        total_parse += parse_us
        print(
            f"{name:<12} {parse_us:>9.1f} {1e6 / parse_us:>9.0f} "
            f"{serialize / args.rounds * 1e6:>13.1f}"
        )
    mean = total_parse / len(SAMPLES)
    print(f"{'mean':<12} {mean:>9.1f} {1e6 / mean:>9.0f}")


if __name__ == "__main__":
    main()
