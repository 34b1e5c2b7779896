"""Reads the fuzzingclient's index.json and prints, per agent and per
section, how many cases ended OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED
and FAILED, then every oxsio case that is not OK.

Usage: python report.py REPORT_DIR/index.json [CASES_UNIMPLEMENTED_OK...]

Exit status 1 when an oxsio case failed: its behaviour is not OK,
NON-STRICT or INFORMATIONAL (UNIMPLEMENTED counts only for the case
prefixes given after the file, the permessage-deflate variants oxsio
declines), or its closing behaviour is not OK or INFORMATIONAL. The last
line reads `autobahn: N passed, M failed` over oxsio's cases.
"""

import json
import sys
from collections import defaultdict

GOOD = {"OK", "NON-STRICT", "INFORMATIONAL"}
GOOD_CLOSE = {"OK", "INFORMATIONAL"}
COLUMNS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]


def key(case_id):
    return tuple(int(p) for p in case_id.split("."))


def main():
    index = json.load(open(sys.argv[1]))
    declined = sys.argv[2:]
    agents = sorted(index, key=lambda a: (a != "oxsio", a))
    print("%-12s %-8s %s" % ("agent", "section", " ".join("%13s" % c for c in COLUMNS)))
    for agent in agents:
        per = defaultdict(lambda: defaultdict(int))
        for case_id, r in index[agent].items():
            b = r["behavior"]
            per[case_id.split(".")[0]][b if b in COLUMNS else "FAILED"] += 1
        for section in sorted(per, key=int):
            row = per[section]
            print("%-12s %-8s %s" % (agent, section, " ".join("%13d" % row[c] for c in COLUMNS)))
    passed = failed = 0
    for case_id in sorted(index.get("oxsio", {}), key=key):
        r = index["oxsio"][case_id]
        b, bc = r["behavior"], r["behaviorClose"]
        ok = (b in GOOD or (b == "UNIMPLEMENTED" and any(
            case_id == d or case_id.startswith(d + ".") for d in declined))
        ) and (bc in GOOD_CLOSE or b == "UNIMPLEMENTED")
        if ok:
            passed += 1
        else:
            failed += 1
        if not ok or b != "OK":
            print("oxsio %-9s %-14s close %-14s %s%s" % (
                case_id, b, bc, r.get("remoteCloseCode"),
                "" if ok else "   <-- FAILED"))
    if "oxsio" not in index:
        failed += 1
        print("no oxsio results")
    print("autobahn: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
