"""Firewall rules on the local cloud's PostgreSQL, enforced through a managed block of its pg_hba.conf.

The dev stack's PostgreSQL admits only its admin over TCP; a connection's firewall rule adds
`host all all <ip>/32 scram-sha-256` for the cluster's outbound IP inside the block below, then reloads the
server. Without the rule, application users are refused ("no pg_hba.conf entry"), as Azure's firewall refuses
an IP it does not list. Servers whose access rules we cannot edit get the rule recorded only.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

BEGIN = "# BEGIN servicelinker firewall rules (managed by servicelinker; do not edit inside this block)"
END = "# END servicelinker firewall rules"
_RULE = re.compile(r"^host\s+all\s+all\s+(\S+)\s+scram-sha-256\s+#\s*servicelinker:(\S+)\s*$")


def rule_name(ip: str) -> str:
    """Azure-style rule name for one outbound IP (rule names allow letters, digits, '-' and '_')."""
    return "ServiceConnector_" + ip.replace(".", "_").replace(":", "_")


def _cidr(ip: str) -> str:
    addr = ipaddress.ip_address(ip)
    return f"{addr}/{addr.max_prefixlen}"


def read_rules(hba: Path) -> dict[str, str]:
    """{rule name: cidr} of the managed block."""
    rules: dict[str, str] = {}
    inside = False
    for line in hba.read_text().splitlines():
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside and (m := _RULE.match(line.strip())):
            rules[m.group(2)] = m.group(1)
    return rules


def write_rules(hba: Path, rules: dict[str, str]) -> bool:
    """Replace the managed block with `rules`; returns whether the file changed."""
    text = hba.read_text()
    lines = text.splitlines()
    if BEGIN in lines and END in lines:
        start, end = lines.index(BEGIN), lines.index(END)
        outside = lines[:start] + lines[end + 1 :]
    else:
        outside = lines
    block = [BEGIN]
    block += [f"host all all {cidr} scram-sha-256  # servicelinker:{name}" for name, cidr in sorted(rules.items())]
    block.append(END)
    new = "\n".join([*outside, *block]) + "\n"
    if new == text:
        return False
    hba.write_text(new)
    return True


def admit(hba: Path, ip: str) -> bool:
    rules = read_rules(hba)
    rules[rule_name(ip)] = _cidr(ip)
    return write_rules(hba, rules)


def revoke(hba: Path, ip: str) -> bool:
    rules = read_rules(hba)
    rules.pop(rule_name(ip), None)
    return write_rules(hba, rules)


def admits(hba: Path, ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    return any(addr in ipaddress.ip_network(cidr, strict=False) for cidr in read_rules(hba).values())


def range_cidrs(start: str, end: str) -> list[str]:
    low, high = ipaddress.ip_address(start), ipaddress.ip_address(end)
    if low.version != high.version or int(low) > int(high):
        raise ValueError(f"'{start}'-'{end}' is not an IP range")
    return [str(n) for n in ipaddress.summarize_address_range(low, high)]


def set_rule(hba: Path, name: str, start: str, end: str) -> bool:
    """A named rule admitting `start`..`end` (as ARM's firewallRules PUT): one line per covering CIDR, the
    extra lines keyed `<name>~<n>`."""
    rules = {k: v for k, v in read_rules(hba).items() if k != name and not k.startswith(name + "~")}
    for i, cidr in enumerate(range_cidrs(start, end)):
        rules[name if i == 0 else f"{name}~{i}"] = cidr
    return write_rules(hba, rules)


def drop_rule(hba: Path, name: str) -> bool:
    rules = {k: v for k, v in read_rules(hba).items() if k != name and not k.startswith(name + "~")}
    return write_rules(hba, rules)
