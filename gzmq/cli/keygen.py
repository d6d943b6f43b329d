"""``python -m gzmq keygen``: a CURVE key pair, printed or written as certificate files."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "keygen", help="make a CURVE key pair (or certificate files with --cert-dir)",
        description="Make a CURVE key pair. Without options, print it as "
                    "python -m gzmq.curve_keygen does (--json: as JSON; --secret: derive the "
                    "public key of a secret key). With --cert-dir, write NAME.key and "
                    "NAME.key_secret certificates there instead (readable by "
                    "gzmq.auth.load_certificate and pyzmq's zmq.auth) and print their paths.")
    parser.add_argument("--json", action="store_true", help="print the keys as JSON")
    parser.add_argument("--secret", help="derive the public key of this Z85 secret key")
    parser.add_argument("--cert-dir", metavar="DIR",
                        help="write a certificate pair into DIR (made if missing)")
    parser.add_argument("--name", default="gzmq",
                        help="base name of the certificate files (default: gzmq)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.cert_dir is None:
        from ..curve_keygen import _main
        argv = (["--json"] if args.json else []) + (["--secret", args.secret]
                                                     if args.secret else [])
        _main(argv)
        return 0
    if args.secret:
        print("python -m gzmq keygen: --secret cannot be combined with --cert-dir",
              file=sys.stderr)
        return 2
    from ..auth.certs import create_certificates
    os.makedirs(args.cert_dir, exist_ok=True)
    public_file, secret_file = create_certificates(args.cert_dir, args.name)
    if args.json:
        import json
        print(json.dumps({"public": str(public_file), "secret": str(secret_file)}))
    else:
        print(public_file)
        print(secret_file)
    return 0
