"""Prints what the contract run (scripts/contract) checked, from schemathesis' NDJSON events:
each check with how many responses it passed and failed, the answers by status code, and the
operations that only ever got a 401, 404 or 429 (tested for shape only). Exits non-zero when
any check failed or a response was a server error."""

import collections
import json
import sys


def main():
    checks = collections.Counter()
    failed = collections.Counter()
    statuses = collections.Counter()
    by_operation = collections.defaultdict(collections.Counter)
    for path in sys.argv[1:]:
        for line in open(path, encoding="utf-8"):
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished["recorder"]
            for results in recorder.get("checks", {}).values():
                for r in results:
                    checks[r["name"]] += 1
                    if r["status"] != "success":
                        failed[r["name"]] += 1
            for interaction in recorder.get("interactions", {}).values():
                response = interaction.get("response") or {}
                code = response.get("status_code")
                if code is not None:
                    statuses[code] += 1
                    by_operation[recorder["label"]][code] += 1
    print("==> contract checks (responses checked, failed)")
    for name in sorted(checks):
        print(f"  {name:32} {checks[name]:6} checked {failed[name]:4} failed")
    print("==> responses by status: " + ", ".join(f"{c}: {n}" for c, n in sorted(statuses.items())))
    server_errors = sum(n for c, n in statuses.items() if c >= 500)
    print(f"==> server errors (5xx): {server_errors}")
    shallow = [
        f"{op} ({'/'.join(str(c) for c in sorted(codes))})"
        for op, codes in sorted(by_operation.items())
        if set(codes) <= {401, 403, 404, 405, 429}
    ]
    if shallow:
        print("==> only refused (contract of the refusals checked, logic not reached):")
        for s in shallow:
            print("  " + s)
    if not checks:
        print("no check ran", file=sys.stderr)
        return 1
    return 1 if sum(failed.values()) or server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
