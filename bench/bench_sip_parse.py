"""Measure SIP parse and serialize cost on the stored sample messages.

Run: ``python bench/bench_sip_parse.py [--rounds N]``. Each sample from
``tests/sip/data`` goes ``--rounds`` times through the shallow routing parse
(``peek_routing``), the full parse (``parse_message``) and serialization
(``to_bytes``); the best of five repeats is reported in microseconds per
message and messages per second on one core (one process, one thread). Record
the CPU and Python version beside any result you keep: the numbers depend on both.
"""

from __future__ import annotations

import argparse
import functools
import platform
import timeit
from pathlib import Path

from tlstrunk.sip.message import parse_message
from tlstrunk.sip.peek import peek_routing

SAMPLES = ("invite_sdp", "trying_100", "ringing_180", "ok_200_sdp", "ack", "bye", "options")
DATA = Path(__file__).resolve().parents[1] / "tests" / "sip" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="parses per repeat")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()} ({platform.processor()})")
    print(f"{'message':<12} {'peek us':>8} {'peek/s':>9} {'parse us':>9} {'parse/s':>9} "
          f"{'serialize us':>13}")
    totals = [0.0, 0.0]
    for name in SAMPLES:
        data = (DATA / f"{name}.sip").read_bytes()
        message = parse_message(data)
        peek = _best(functools.partial(peek_routing, data), args.rounds)
        parse = _best(functools.partial(parse_message, data), args.rounds)
        serialize = _best(message.to_bytes, args.rounds)
        totals[0] += peek
        totals[1] += parse
        print(f"{name:<12} {peek:>8.2f} {1e6 / peek:>9.0f} {parse:>9.1f} {1e6 / parse:>9.0f} "
              f"{serialize:>13.1f}")
    peek_mean, parse_mean = (total / len(SAMPLES) for total in totals)
    print(f"{'mean':<12} {peek_mean:>8.2f} {1e6 / peek_mean:>9.0f} {parse_mean:>9.1f} "
          f"{1e6 / parse_mean:>9.0f}")


def _best(function: functools.partial[object] | object, rounds: int) -> float:
    """Return the best of five repeats, in microseconds per call."""
    seconds = min(timeit.repeat(function, number=rounds, repeat=5))  # type: ignore[arg-type]
    return seconds / rounds * 1e6

if __name__ == "__main__":
    main()
