"""
Generate a zmq curve keypair.

Generates a 'public' and a 'secret' key.
Add `--json` to output as a JSON dictionary.
Add `--secret SECRET` to derive public key from an existing secret key.

CURVE keys are always z85-encoded (ASCII safe).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

__all__: list[str] = []


def _text(key: object) -> str:
    return key.decode("ascii") if isinstance(key, bytes) else str(key)


def _main(argv: Optional[Sequence[str]] = None) -> None:
    """``python -m gzmq.curve_keygen [--json] [--secret SECRET]``, output as pyzmq's."""
    from .zmtp import z85

    # the module name it was run as: "zmq.curve_keygen" under gzmq.monkey (python -m
    # zmq.curve_keygen runs this code with the alias's spec), else "gzmq.curve_keygen"
    spec = globals().get("__spec__")
    name = spec.name if spec is not None else "gzmq.curve_keygen"
    parser = argparse.ArgumentParser(prog=f"python3 -m {name}", description=__doc__)
    parser.add_argument("--json", action="store_true", help="output keys as JSON dict")
    parser.add_argument("--secret", type=str,
                        help="specify secret key to derive a public key")
    opts = parser.parse_args(argv)
    if opts.secret:
        secret = opts.secret
        try:
            if len(secret) != 40:  # the Z85 form only (32 characters must not pass as raw)
                raise ValueError(f"expected 40 Z85 characters, got {len(secret)}")
            public = _text(z85.curve_public(secret.encode("ascii")))
        except (ValueError, UnicodeError) as e:
            parser.error(f"invalid secret key: {e}")
    else:
        public_key, secret_key = z85.curve_keypair()
        public, secret = _text(public_key), _text(secret_key)
    if opts.json:
        json.dump({"public": public, "secret": secret}, sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        # libzmq's curve_keygen layout, without its disclaimer (as pyzmq)
        sys.stdout.write(f"== CURVE PUBLIC KEY ==\n{public}\n\n== CURVE SECRET KEY ==\n{secret}\n")


if __name__ == "__main__":
    _main()
