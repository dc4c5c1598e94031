#!/usr/bin/env python3
"""Independent peer for Provisio's TOSCA YAML reader: OpenStack tosca-parser (PyPI).

Usage: yaml_peer.py FILE...   (YAML service templates or CSARs)
Prints one JSON object per line: {"file", "valid", "nodes", "requirements", "error"} where
requirements maps each node template to its sorted [requirement, target node] pairs.
"""
import json
import logging
import sys

logging.disable(logging.CRITICAL)

from toscaparser.tosca_template import ToscaTemplate  # noqa: E402


def check(path):
    out = {"file": path, "valid": False, "nodes": None, "requirements": None, "error": None}
    try:
        # parsed_params={} : inputs without a value are not an error here; Provisio asks for
        # them at deploy time.
        t = ToscaTemplate(path, parsed_params={}, a_file=True)
    except BaseException as e:  # tosca-parser raises several unrelated exception types
        lines = [ln.strip() for ln in str(e).splitlines()]
        errs = [ln for ln in lines if "Error:" in ln and not ln.startswith("File ")]
        out["error"] = (errs[0] if errs else (lines[-1] if lines else type(e).__name__))[:400]
        return out
    out["valid"] = True
    nodes = getattr(t, "nodetemplates", None) or []
    out["nodes"] = len(nodes)
    reqs = {}
    for n in nodes:
        pairs = []
        for r in n.requirements or []:
            for name, v in r.items():
                target = v if isinstance(v, str) else (v or {}).get("node")
                if target is not None:
                    pairs.append([name, target])
        reqs[n.name] = sorted(pairs)
    out["requirements"] = reqs
    return out


for p in sys.argv[1:]:
    print(json.dumps(check(p)), flush=True)
