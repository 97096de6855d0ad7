#!/usr/bin/env python3
"""Writes src/control_plane/api/protobuf/fields.json: the protobuf field table of every message the served
group-versions use, read from Kubernetes' own sources.

    python3 tools/protobuf_fields.py API_REPO APIMACHINERY_REPO > src/control_plane/api/protobuf/fields.json

API_REPO and APIMACHINERY_REPO are git repositories (bare or not) of k8s.io/api and k8s.io/apimachinery;
HEAD is read. Two sources, because neither has everything:
- each package's generated.proto gives the messages: field numbers, names and types;
- the package's Go types give what the wire does not: the JSON name, whether the Go field is a pointer
  (Go's encoder writes every non-pointer field, zero or not, so only a pointer's zero means "set") and
  whether a struct is embedded without a JSON name (its fields are the parent's in JSON).

Each field is [number, json name, type, flags]: type is a protobuf scalar or a message's full name (a
map's value type for maps, whose keys are strings here); flags has r (repeated), m (map), p (Go pointer),
i (inlined into the parent). A message whose Go type is a slice (metav1.Verbs, authorization's ExtraValue)
is marked "list": its JSON is its one repeated field.
"""

import json
import re
import subprocess
import sys

# The packages of the served group-versions (src/resources/kinds.rs, the reviews, Scale); the messages
# they reach in other packages come along.
ROOTS = [
    "core/v1", "apps/v1", "batch/v1", "batch/v1beta1", "coordination/v1", "discovery/v1", "storage/v1",
    "networking/v1", "rbac/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1", "scheduling/v1",
    "authorization/v1", "authentication/v1", "events/v1",
]

# And the Status of a watch's ERROR event.
EXTRA_MESSAGES = ["k8s.io.apimachinery.pkg.apis.meta.v1.Status"]

FIELD = re.compile(r"^\s*(optional|repeated)\s+(\S+)\s+(\w+)\s*=\s*(\d+)\s*;")
MAP_FIELD = re.compile(r"^\s*map<\s*string\s*,\s*(\S+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")
GO_FIELD = re.compile(r"^\s*(?:(\w+)\s+)?([^\s`]+)\s+`([^`]*)`")
GO_STRUCT = re.compile(r"^type\s+(\w+)\s+struct\s*\{")
GO_SLICE = re.compile(r"^type\s+(\w+)\s+\[\]")
SCALARS = {"string", "bool", "bytes", "int32", "int64", "uint32", "uint64", "double", "float",
           "sint32", "sint64", "fixed32", "fixed64"}


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def package_dirs(repo):
    """Directory -> proto package name, for every generated.proto in the repository."""
    out = {}
    for path in git(repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines():
        if path.endswith("/generated.proto"):
            out[path.rsplit("/", 1)[0]] = path
    return out


def parse_proto(text):
    """(package, {message: [(number, name, type, label)]}), types fully qualified without the leading dot."""
    package = re.search(r"^package\s+([\w.]+)\s*;", text, re.M).group(1)
    messages, current = {}, None
    for line in text.splitlines():
        line = line.split("//", 1)[0]
        start = re.match(r"^message\s+(\w+)\s*\{", line)
        if start:
            current = messages.setdefault(start.group(1), [])
            continue
        if line.strip() == "}":
            current = None
            continue
        if current is None:
            continue
        m = FIELD.match(line)
        if m:
            label, ty, name, number = m.groups()
            current.append((int(number), name, qualify(ty, package), "r" if label == "repeated" else ""))
            continue
        m = MAP_FIELD.match(line)
        if m:
            ty, name, number = m.groups()
            current.append((int(number), name, qualify(ty, package), "m"))
    return package, messages


def qualify(ty, package):
    if ty in SCALARS:
        return ty
    if ty.startswith("."):
        return ty[1:]
    return f"{package}.{ty}"


def parse_go(repo, directory):
    """{struct: {field number: (json name, pointer, inline)}} and the set of slice types."""
    structs, slices = {}, set()
    for path in git(repo, "ls-tree", "--name-only", "HEAD", directory + "/").splitlines():
        base = path.rsplit("/", 1)[-1]
        if not base.endswith(".go") or base.endswith("_test.go") or base.startswith(("zz_", "generated")):
            continue
        current = None
        for line in git(repo, "show", f"HEAD:{path}").splitlines():
            if line.lstrip().startswith("//"):
                continue
            start = GO_STRUCT.match(line)
            if start:
                current = structs.setdefault(start.group(1), {})
                continue
            slice_type = GO_SLICE.match(line)
            if slice_type:
                slices.add(slice_type.group(1))
            if line.startswith("}"):
                current = None
                continue
            if current is None:
                continue
            m = GO_FIELD.match(line)
            if not m:
                continue
            field_name, go_type, tags = m.groups()
            # Keyed by field number: an embedded struct's tag may have no name= (EphemeralContainerCommon).
            proto = re.search(r'protobuf:"\w+,(\d+),', tags)
            if not proto:
                continue
            json_tag = re.search(r'json:"([^"]*)"', tags)
            json_name = json_tag.group(1).split(",")[0] if json_tag else (field_name or "")
            current[int(proto.group(1))] = (json_name, go_type.startswith("*"), field_name is None and json_name == "")
    return structs, slices


def main():
    api_repo, machinery_repo = sys.argv[1], sys.argv[2]
    messages, go_facts, packages_of_dir = {}, {}, {}
    for repo, prefix in ((api_repo, ""), (machinery_repo, "")):
        for directory, proto_path in package_dirs(repo).items():
            package, parsed = parse_proto(git(repo, "show", f"HEAD:{proto_path}"))
            structs, slices = parse_go(repo, directory)
            packages_of_dir[(repo, directory)] = package
            for name, fields in parsed.items():
                full = f"{package}.{name}"
                messages[full] = fields
                go_facts[full] = (structs.get(name), name in slices)
    roots = [packages_of_dir[(api_repo, d)] for d in ROOTS]
    wanted, queue = set(), [m for m in messages if m.rsplit(".", 1)[0] in roots] + EXTRA_MESSAGES
    while queue:
        name = queue.pop()
        if name in wanted:
            continue
        wanted.add(name)
        queue.extend(ty for (_, _, ty, _) in messages[name] if ty not in SCALARS)
    table, unknown_go = {}, []
    for name in sorted(wanted):
        go_struct, is_slice = go_facts[name]
        fields = []
        for number, proto_name, ty, flags in sorted(messages[name]):
            json_name, pointer, inline = proto_name, False, False
            if go_struct is not None and number in go_struct:
                json_name, pointer, inline = go_struct[number]
            elif not is_slice:
                unknown_go.append(f"{name}.{proto_name}")
            fields.append([number, json_name, ty, flags + ("p" if pointer else "") + ("i" if inline else "")])
        table[name] = {"list": True, "fields": fields} if is_slice else {"fields": fields}
    # Messages with their own JSON (Time, Quantity, IntOrString, ...) have no tagged Go struct: the decoder
    # knows them by name. Anything else without Go facts would be decoded by its proto names only.
    print(f"messages: {len(table)}; fields without Go facts: {len(unknown_go)}", file=sys.stderr)
    for field in unknown_go:
        print(f"  {field}", file=sys.stderr)
    json.dump(table, sys.stdout, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
