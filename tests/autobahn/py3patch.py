"""Makes the PyPI `autobahntestsuite` (Python 2 code) run under Python 3.

Usage: python py3patch.py SITE_PACKAGES_DIR

Applied once, at install time, to the installed package (run.sh does it):
1. lib2to3 rewrites the syntax (print, except X, e, dict methods, imports);
2. non-ASCII characters typed into str literals (Python 2 read them as their
   UTF-8 bytes) become \\x escapes of those bytes;
3. `_py3compat.py` is added and imported first: it gives Python 2's
   byte-string meaning back to str payloads (each character is one byte,
   latin-1) where they cross into autobahn's framing, hexlifying and the
   comparison of received and expected events;
4. a few line edits listed in EDITS below;
5. the package's bytecode caches are removed: a .pyc compiled before the
   patch can have the patched file's size and, within the same second, its
   mtime, and Python would then run the unpatched code.
The case definitions (frames sent, expectations) are left as they are.
"""

import pathlib
import re
import shutil
import subprocess
import sys

SITE = pathlib.Path(sys.argv[1])
PKG = SITE / "autobahntestsuite"
MARK = PKG / ".py3patched"

COMPAT = r'''
"""Python 2 byte strings under Python 3 (written by tests/autobahn/py3patch.py)."""
import binascii
import json

import txaio

# txaio 2.2+ makes the framework an explicit choice.
txaio.use_twisted()

import autobahn.websocket.protocol as _proto


def tob(x):
    if isinstance(x, str):
        return x.encode("latin-1")
    if isinstance(x, bytearray):
        return bytes(x)
    return x


def norm(x):
    if isinstance(x, (list, tuple)):
        return type(x)(norm(v) for v in x)
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items()}
    return tob(x)


_b2a_hex = binascii.b2a_hex


def b2a_hex(x, *a):
    return _b2a_hex(tob(x), *a).decode("ascii")


binascii.b2a_hex = b2a_hex
binascii.hexlify = b2a_hex

_P = _proto.WebSocketProtocol

_sendFrame = _P.sendFrame


def sendFrame(self, opcode, payload=b"", fin=True, rsv=0, mask=None,
              payload_len=None, chopsize=None, sync=False):
    payload = tob(payload)
    if payload_len is not None and len(payload) > 0:
        # autobahn repeats the payload with Python 2's integer division.
        n = payload_len // len(payload)
        payload = payload * n + payload[:payload_len % len(payload)]
        payload_len = None
    return _sendFrame(self, opcode, payload, fin, rsv, mask, payload_len,
                      chopsize, sync)


_sendCloseFrame = _P.sendCloseFrame


def sendCloseFrame(self, code=None, reasonUtf8=None, isReply=False):
    if reasonUtf8 is not None:
        reasonUtf8 = tob(reasonUtf8)
    return _sendCloseFrame(self, code, reasonUtf8, isReply)


_P.sendCloseFrame = sendCloseFrame


_P.sendFrame = sendFrame

for _name in ("sendMessage", "sendPing", "sendPong", "sendMessageFrameData"):
    def _wrap(orig):
        def f(self, payload=b"", *a, **k):
            return orig(self, tob(payload), *a, **k)
        return f
    setattr(_P, _name, _wrap(getattr(_P, _name)))

_sendData = _P.sendData


def sendData(self, data, *a, **k):
    return _sendData(self, tob(data), *a, **k)


_P.sendData = sendData


class _Enc(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, (bytes, bytearray)):
            return bytes(o).decode("latin-1")
        return json.JSONEncoder.default(self, o)


_dumps = json.dumps


def dumps(obj, *a, **k):
    k.setdefault("cls", _Enc)
    return _dumps(obj, *a, **k)


json.dumps = dumps
'''

EDITS = [
    # Received and expected events are compared as pickles in Python 2,
    # where "abc" == b"abc"; compare them with str taken as latin-1 bytes.
    ("case/case.py",
     "return pickle.dumps(obj1) == pickle.dumps(obj2)",
     "from autobahntestsuite._py3compat import norm\n"
     "      return norm(obj1) == norm(obj2)"),
    # zope.interface's class advice is Python 2 only.
    ("case/case9_9_1.py",
     "from zope.interface import implements",
     "from zope.interface import implementer"),
    ("case/case9_9_1.py",
     "class FrameProducer:\n\n   implements(interfaces.IPushProducer)",
     "@implementer(interfaces.IPushProducer)\nclass FrameProducer:\n"),
    # The UTF-8 cases' table validates Python 2 byte strings.
    ("case/case6_x_x.py",
     "res = v.validate(vss[:i])",
     "res = v.validate(vss[:i].encode('latin-1'))"),
    # Wire log and reports: frames are bytes, report files are text.
    ("fuzzing.py",
     "   ellipses = \" ...\"\n   try:",
     "   from autobahntestsuite._py3compat import tob\n"
     "   ellipses = b\" ...\"\n   data = tob(data)\n   try:"),
    ("fuzzing.py",
     "p = ''.join(payload)",
     "p = b''.join(payload)"),
    ("fuzzing.py",
     "% (c[0], case[c[0]], c[1])).encode(\"utf-8\"))",
     "% (c[0], case[c[0]], c[1])))"),
    ("fuzzing.py",
     "ll.encode('utf8')))",
     "ll))"),
    # The WAMP serializer mode imports unittest2 (Python 2 only); unused here.
    ("wstest.py",
     "from . import serializer\n",
     "serializer = None\n"),
]


def main():
    if MARK.exists():
        return
    subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "lib2to3", "-w", "-n", str(PKG)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for f in PKG.rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        if re.search(r"[^\x00-\x7f]", text):
            text = "".join(
                c if ord(c) < 128 else "".join("\\x%02x" % b for b in c.encode("utf-8"))
                for c in text
            )
            f.write_text(text, encoding="utf-8")
    # Python 2 old-style classes: (object, Case) has no MRO under Python 3.
    for f in PKG.rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        new = re.sub(r"\(object, *(\w+), *\)", r"(\1, )", text)
        if new != text:
            f.write_text(new, encoding="utf-8")
    (PKG / "_py3compat.py").write_text(COMPAT, encoding="utf-8")
    init = PKG / "__init__.py"
    init.write_text("from . import _py3compat  # noqa: F401\n" + init.read_text(encoding="utf-8"))
    for rel, old, new in EDITS:
        f = PKG / rel
        text = f.read_text(encoding="utf-8")
        if old not in text:
            sys.exit("py3patch: %s: %r not found" % (rel, old))
        f.write_text(text.replace(old, new), encoding="utf-8")
    for cache in list(PKG.rglob("__pycache__")):
        shutil.rmtree(cache)
    MARK.write_text("patched\n")


main()
