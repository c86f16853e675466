"""An outside check of the platform's FHIR output: the `fhir.resources` R4 (4.0.1) models.

Reads a JSON array of FHIR resources on stdin, one per output to check, and prints one JSON
object: {"fhirVersion": ..., "results": [{"index", "resourceType", "errors": [...]}]}.

For every resource: the R4 model of its type must accept it (required elements, cardinality,
value types, choice types, primitive formats, no unknown elements, and the resource types a
literal reference may point at), and so must every resource
inside a Bundle's entries. For a `document` Bundle, the document rules as well: identifier and
timestamp present, a Composition first, every entry with a fullUrl, and every reference anywhere
in the document resolving to an entry of the Bundle (FHIR's rule for self-contained documents,
which the International Patient Summary repeats). For `searchset`, `history` and
`transaction-response` Bundles: each entry has what its Bundle type needs.

Needs `fhir.resources==6.1.0` (the last release whose default package is R4 4.0.1) and
`pydantic<2`: ml/training/requirements-ci.txt.
"""

import json
import sys

import fhir.resources
from fhir.resources import get_fhir_model_class


def model_errors(resource):
    """Errors of the R4 model for one resource (its own type), as short strings."""
    rt = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(rt, str):
        return ["not a resource: no resourceType"]
    try:
        cls = get_fhir_model_class(rt)
    except KeyError:
        return [f"{rt}: not an R4 resource type"]
    try:
        model = cls.parse_obj(resource)
    except Exception as exc:  # pydantic.ValidationError: one line per failing element
        errors = getattr(exc, "errors", None)
        if callable(errors):
            return [f"{rt}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors()]
        return [f"{rt}: {exc}"]
    return list(reference_target_errors(model, rt))


def reference_target_errors(model, path):
    """A literal reference `Type/id` must point at a type the element allows (e.g. AuditEvent.agent.location: Location)."""
    for name, field in model.__fields__.items():
        value = getattr(model, name, None)
        if value is None:
            continue
        allowed = field.field_info.extra.get("enum_reference_types")
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            here = f"{path}.{field.alias}" + (f"[{i}]" if isinstance(value, list) else "")
            if allowed and getattr(item, "resource_type", None) == "Reference":
                ref = item.reference
                if isinstance(ref, str) and not ref.startswith(("#", "urn:")) and "Resource" not in allowed:
                    target = ref.rstrip("/").split("/")[-2] if ref.count("/") >= 1 else None
                    if target and target not in allowed:
                        yield f"{here}: refers to a {target}, allowed: {', '.join(allowed)}"
            if hasattr(item, "__fields__"):  # an element or a contained resource
                yield from reference_target_errors(item, here)


def references(value, path=""):
    """Every Reference.reference string inside a value, with where it sits."""
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{path}.{key}" if path else key
            if key == "reference" and isinstance(inner, str):
                yield here, inner
            else:
                yield from references(inner, here)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from references(inner, f"{path}[{i}]")


def entry_keys(entry):
    """The reference strings an entry answers to: its fullUrl, and Type/id (relative to any base)."""
    keys = set()
    full_url = entry.get("fullUrl")
    res = entry.get("resource") or {}
    if isinstance(full_url, str):
        keys.add(full_url)
    if isinstance(res, dict) and isinstance(res.get("id"), str):
        keys.add(f"{res.get('resourceType')}/{res['id']}")
    return keys


def document_errors(bundle):
    errors = []
    entries = bundle.get("entry") or []
    if not bundle.get("identifier"):
        errors.append("document: Bundle.identifier missing (bdl-9)")
    if not bundle.get("timestamp"):
        errors.append("document: Bundle.timestamp missing (bdl-10)")
    if not entries or (entries[0].get("resource") or {}).get("resourceType") != "Composition":
        errors.append("document: the first entry is not a Composition (bdl-11)")
    known = set()
    for i, e in enumerate(entries):
        if not isinstance(e.get("fullUrl"), str):
            errors.append(f"document: entry[{i}] has no fullUrl")
        known |= entry_keys(e)
    for i, e in enumerate(entries):
        res = e.get("resource") or {}
        for where, ref in references(res):
            if ref.startswith("#"):
                continue  # a contained resource
            if ref in known:
                continue
            # an absolute URL whose tail Type/id is an entry of the Bundle
            tail = "/".join(ref.rstrip("/").split("/")[-2:])
            if ref.startswith(("http://", "https://")) and tail in known:
                continue
            errors.append(f"document: entry[{i}] {res.get('resourceType')}.{where} = {ref!r} resolves to no entry")
    return errors


def bundle_errors(bundle):
    errors = []
    kind = bundle.get("type")
    for i, e in enumerate(bundle.get("entry") or []):
        res = e.get("resource")
        if res is not None:
            errors += [f"entry[{i}].resource: {m}" for m in model_errors(res)]
        if kind == "searchset":
            if res is None:
                errors.append(f"searchset: entry[{i}] has no resource")
            if not isinstance(e.get("fullUrl"), str):
                errors.append(f"searchset: entry[{i}] has no fullUrl")
            if (e.get("search") or {}).get("mode") not in ("match", "include", "outcome"):
                errors.append(f"searchset: entry[{i}] has no search.mode")
        if kind == "history" and not e.get("request"):
            errors.append(f"history: entry[{i}] has no request (bdl-4)")
        if kind in ("transaction-response", "batch-response") and not (e.get("response") or {}).get("status"):
            errors.append(f"{kind}: entry[{i}] has no response.status")
    if kind == "document":
        errors += document_errors(bundle)
    return errors


def check(resource):
    errors = model_errors(resource)
    if isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
        errors += bundle_errors(resource)
    return errors


def main():
    outputs = json.load(sys.stdin)
    results = []
    for i, res in enumerate(outputs):
        rt = res.get("resourceType") if isinstance(res, dict) else None
        results.append({"index": i, "resourceType": rt, "errors": check(res)})
    json.dump({"fhirVersion": fhir.resources.__fhir_version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
