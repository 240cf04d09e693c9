"""template.yaml as JSON for tests/tests/deployed, with CloudFormation's parameter checks.

Decodes the template with cfn-lint's decoder (the short tags `!Ref`, `!GetAtt`, `!Sub` become
their long forms `Ref`, `Fn::GetAtt`, `Fn::Sub`), then checks the given parameter values the way
CloudFormation does before it creates anything: a parameter without a default needs a value,
and a value must match its AllowedPattern (the whole value), be one of its AllowedValues, and
lie within MinValue/MaxValue. Prints one JSON object: {"template": ..., "problems": [...]}.

Usage: python scripts/cfn_template.py template.yaml [Key=Value ...]
"""

import json
import re
import sys

from cfnlint.decode import decode


def problems(params: dict, given: dict) -> list:
    out = []
    for name in given:
        if name not in params:
            out.append(f"{name}: not a parameter of the template")
    for name, spec in params.items():
        value = given.get(name, spec.get("Default"))
        if value is None:
            out.append(f"{name}: required (no default) but given no value")
            continue
        value = str(value)
        pattern = spec.get("AllowedPattern")
        if pattern is not None and re.fullmatch(pattern, value) is None:
            out.append(f"{name}: {value!r} does not match AllowedPattern {pattern}")
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            out.append(f"{name}: {value!r} is not one of {allowed}")
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except ValueError:
                out.append(f"{name}: {value!r} is not a number")
                continue
            if "MinValue" in spec and number < float(spec["MinValue"]):
                out.append(f"{name}: {value} is below MinValue {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                out.append(f"{name}: {value} is above MaxValue {spec['MaxValue']}")
    return out


def main() -> None:
    template, matches = decode(sys.argv[1])
    if template is None:
        sys.exit(f"{sys.argv[1]} does not parse: {matches}")
    given = dict(arg.split("=", 1) for arg in sys.argv[2:])
    found = problems(template.get("Parameters", {}), given)
    json.dump({"template": template, "problems": found}, sys.stdout)


if __name__ == "__main__":
    main()
