"""Read deploy/intake.yaml into plain data, short-form tags (`!Ref`, `!Sub`, ...)
turned into their JSON form (`{"Ref": ...}`, `{"Fn::Sub": ...}`), as CloudFormation
itself reads them. Used by the tests and for sending the template as JSON.

    python -m deploy.template variants DIR   # the template with the app switched on, for checkov

checkov judges only the resources whose conditions hold with the parameters'
defaults, and RunTheApp defaults to no; `variants` writes copies whose defaults run
the app (small and standard), so scripts/checkov.sh scans every resource.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent / "intake.yaml"


class _Loader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _intrinsic)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


# Defaults that switch the app on; the ARNs and image are placeholders of the right shape.
APP_ON = {
    "RunTheApp": '"yes"',
    "ImageUri": '"123456789012.dkr.ecr.us-east-1.amazonaws.com/intake:1"',
    "DownloadsPrivateKeySecret": '"arn:aws:secretsmanager:us-east-1:123456789012:secret:intake-cloudfront-AbCdEf"',
    "MailSmtpSecret": '"arn:aws:secretsmanager:us-east-1:123456789012:secret:intake-smtp-AbCdEf"',
    "SiteHostedZoneId": '"Z0123456789ABC"',
}


def with_defaults(text: str, defaults: dict[str, str]) -> str:
    """The template's text with these parameters' `Default:` lines replaced."""
    for name, value in defaults.items():
        pattern = re.compile(rf"(\n  {re.escape(name)}:\n(?:    .*\n)*?    Default: ).*")
        text, count = pattern.subn(lambda m, v=value: m.group(1) + v, text, count=1)  # type: ignore[misc]
        if count != 1:
            raise ValueError(f"parameter {name} has no Default line to replace")
    return text


def write_variants(directory: Path, path: Path = TEMPLATE) -> list[Path]:
    text = path.read_text(encoding="utf-8")
    written = []
    for size in ("small", "standard"):
        target = directory / f"intake-app-{size}.yaml"
        target.write_text(with_defaults(text, {**APP_ON, "Size": size}), encoding="utf-8")
        written.append(target)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "variants":
        sys.exit("usage: python -m deploy.template variants DIR")
    for written_path in write_variants(Path(sys.argv[2])):
        print(written_path)
