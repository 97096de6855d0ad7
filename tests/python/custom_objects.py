"""Custom objects with the official Python client's CustomObjectsApi, against the Widget definition of
tests/crds/widgets.yaml (Established already): a create with an unknown field (pruned: the client sends
no field validation) and a left-out one (defaulted); a watch from the list's resourceVersion that sees
ADDED, MODIFIED and DELETED; a status written through the status subresource; a finalizer that holds a
deletion until it is taken away; a ConfigMap owned by a widget, garbage-collected after it. Prints
`ok <check>` per check; fails on the first that does not hold. Usage: custom_objects.py KUBECONFIG
"""

import sys
import threading
import time

from kubernetes import client, config, watch

api_client = config.new_client_from_config(config_file=sys.argv[1])
custom = client.CustomObjectsApi(api_client)
core = client.CoreV1Api(api_client)
GROUP, VERSION, NS, PLURAL = "kubeboot-test.example.com", "v1", "py", "widgets"

core.create_namespace({"metadata": {"name": NS}})


def widget(name, **spec):
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def wait(what, check, limit=30):
    deadline = time.time() + limit
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


listed = custom.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)
events = []
stop = threading.Event()


def follow():
    stream = watch.Watch().stream(
        custom.list_namespaced_custom_object, GROUP, VERSION, NS, PLURAL,
        resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=60,
    )
    for event in stream:
        events.append((event["type"], event["object"]["metadata"]["name"]))
        if stop.is_set():
            return


watcher = threading.Thread(target=follow, daemon=True)
watcher.start()

made = custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, widget("p1", image="redis", extra="x"))
assert "extra" not in made["spec"], made
assert made["spec"]["replicas"] == 1 and made["spec"]["color"] == "blue", made
print("ok pruned and defaulted on create", flush=True)

custom.patch_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "p1", {"spec": {"replicas": 2}})
status = custom.patch_namespaced_custom_object_status(
    GROUP, VERSION, NS, PLURAL, "p1", {"status": {"phase": "Running", "replicas": 2}}
)
assert status["status"]["phase"] == "Running" and status["spec"]["replicas"] == 2, status
print("ok status subresource", flush=True)

try:
    custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, widget("p2", image="redis", replicas=-1))
    raise AssertionError("a negative replica count was accepted")
except client.exceptions.ApiException as e:
    assert e.status == 422 and "spec.replicas" in e.body, e.body
print("ok invalid refused with 422", flush=True)

# A finalizer holds the deletion: the object stays, marked, until it is taken away.
custom.patch_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "p1", {"metadata": {"finalizers": ["example.com/hold"]}})
custom.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "p1")
held = custom.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "p1")
assert held["metadata"].get("deletionTimestamp"), held
custom.patch_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "p1", {"metadata": {"finalizers": None}})


def gone(name):
    try:
        custom.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, name)
        return False
    except client.exceptions.ApiException as e:
        return e.status == 404


wait("p1 deleted once its finalizer went", lambda: gone("p1"))
print("ok finalizer held the deletion", flush=True)

wait("the watch's events", lambda: ("DELETED", "p1") in events)
stop.set()
kinds = [kind for kind, name in events if name == "p1"]
assert kinds[0] == "ADDED" and "MODIFIED" in kinds and kinds[-1] == "DELETED", events
print("ok watched ADDED, MODIFIED, DELETED", flush=True)

# Garbage collection: a ConfigMap owned by a widget goes with it.
owner = custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, widget("owner", image="redis"))
reference = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Widget", "name": "owner", "uid": owner["metadata"]["uid"]}
core.create_namespaced_config_map(NS, {"metadata": {"name": "owned", "ownerReferences": [reference]}, "data": {"a": "b"}})
custom.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "owner")


def config_map_gone():
    try:
        core.read_namespaced_config_map("owned", NS)
        return False
    except client.exceptions.ApiException as e:
        return e.status == 404


wait("the owned ConfigMap collected", config_map_gone)
print("ok dependent garbage-collected", flush=True)
