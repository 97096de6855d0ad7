"""The API conventions clients rely on, driven by the official Kubernetes Python client (PyPI `kubernetes`,
installed by .ci/setup into target/pyclient) against a kubeboot API server with its controllers running:
writes without a precondition never answer 409 however many race (GuaranteedUpdate), DeleteOptions'
resourceVersion precondition, and server-side apply (managed fields, conflicts, force, fields released).
Prints `ok <check>` per check; any failure raises.

    target/pyclient/bin/python tests/python/api_conventions.py KUBECONFIG
"""

import base64
import datetime
import json
import sys
import threading
import time

from kubernetes import client, config, dynamic
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import DynamicApiError

NS = "conventions"
PARALLEL = 12


def ok(check):
    print("ok", check, flush=True)


def meta(name, **labels):
    return client.V1ObjectMeta(name=name, labels=labels or None)


def pod_template(app):
    """A pod template labelled app=APP (never run here: replicas stay 0)."""
    return client.V1PodTemplateSpec(
        metadata=meta(None, app=app),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="registry.local/busy:1")]))


def in_parallel(calls):
    """Run every call at once; the exceptions they raised."""
    failures = []
    gate = threading.Barrier(len(calls))

    def run(call):
        gate.wait()
        try:
            call()
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failures.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


def status_of(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ApiException as e:
        return e.status
    return 200


def concurrent_writes(core, apps, batch):
    core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta("hot"), data={}))
    failures = in_parallel([
        (lambda i=i: core.patch_namespaced_config_map("hot", NS, {"data": {f"k{i}": str(i)}}))
        for i in range(PARALLEL)
    ])
    assert failures == [], [(f.status, f.body) if isinstance(f, ApiException) else f for f in failures]
    data = core.read_namespaced_config_map("hot", NS).data
    assert data == {f"k{i}": str(i) for i in range(PARALLEL)}, data
    ok(f"{PARALLEL} concurrent merge patches of one ConfigMap all made")

    template = pod_template("busy")
    apps.create_namespaced_deployment(NS, client.V1Deployment(
        metadata=meta("busy"),
        spec=client.V1DeploymentSpec(replicas=0, selector=client.V1LabelSelector(match_labels={"app": "busy"}),
                                     template=template)))
    # Scale patches race each other and the status writes of a client standing in for a controller.
    scales = [(lambda i=i: apps.patch_namespaced_deployment_scale("busy", NS, {"spec": {"replicas": i % 3}}))
              for i in range(PARALLEL)]
    statuses = [(lambda i=i: apps.patch_namespaced_deployment_status(
        "busy", NS, {"status": {"observedGeneration": i}})) for i in range(PARALLEL)]
    failures = in_parallel(scales + statuses)
    assert failures == [], [(f.status, f.body) if isinstance(f, ApiException) else f for f in failures]
    ok("scale and status patches of one Deployment, racing, all made")

    cron = batch.create_namespaced_cron_job(NS, client.V1CronJob(
        metadata=meta("tick"),
        spec=client.V1CronJobSpec(schedule="*/5 * * * *", job_template=client.V1JobTemplateSpec(
            spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
                restart_policy="OnFailure", containers=[client.V1Container(name="c", image="busybox:1.36")])))))))
    assert cron.spec.suspend is False
    failures = in_parallel([
        (lambda i=i: batch.patch_namespaced_cron_job("tick", NS, {"spec": {"suspend": i % 2 == 0}}))
        for i in range(PARALLEL)
    ] + [
        (lambda i=i: batch.patch_namespaced_cron_job_status("tick", NS, {"status": {"lastScheduleTime": None}}))
        for i in range(PARALLEL)
    ])
    assert failures == [], [(f.status, f.body) if isinstance(f, ApiException) else f for f in failures]
    ok("CronJob suspend patches racing status writes all made")

    # Deletes racing writes: every delete answers, none with 409.
    for i in range(PARALLEL):
        core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta(f"gone{i}"), data={"a": "1"}))
    policies = ["Foreground", "Background"]
    failures = in_parallel([
        (lambda i=i: core.delete_namespaced_config_map(f"gone{i}", NS, propagation_policy=policies[i % 2]))
        for i in range(PARALLEL)
    ] + [
        (lambda i=i: core.patch_namespaced_config_map(f"gone{i}", NS, {"metadata": {"labels": {"touched": "yes"}}}))
        for i in range(PARALLEL)
    ])
    assert all(isinstance(f, ApiException) and f.status == 404 for f in failures), failures
    ok("deletes racing patches: no conflict")


def delete_preconditions(core):
    cm = core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta("guarded"), data={"a": "1"}))
    stale = cm.metadata.resource_version
    core.patch_namespaced_config_map("guarded", NS, {"data": {"a": "2"}})
    try:
        core.delete_namespaced_config_map("guarded", NS, body=client.V1DeleteOptions(
            preconditions=client.V1Preconditions(resource_version=stale)))
        raise AssertionError("a stale resourceVersion precondition deleted the object")
    except ApiException as e:
        assert e.status == 409, e
        assert "Precondition failed: ResourceVersion in precondition: " + stale in e.body, e.body
    current = core.read_namespaced_config_map("guarded", NS).metadata.resource_version
    core.delete_namespaced_config_map("guarded", NS, body=client.V1DeleteOptions(
        preconditions=client.V1Preconditions(resource_version=current)))
    assert status_of(core.read_namespaced_config_map, "guarded", NS) == 404
    ok("DeleteOptions preconditions.resourceVersion")


APPLY = "application/apply-patch+yaml"
DYNAMIC = None


def apply_cm(core, manager, data, force=None, name="ssa"):
    """Server-side apply through the client's dynamic client (its typed API has no apply)."""
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    configmaps = DYNAMIC.resources.get(api_version="v1", kind="ConfigMap")
    configmaps.server_side_apply(body=body, name=name, namespace=NS, field_manager=manager, force_conflicts=force)
    return core.read_namespaced_config_map(name, NS)


def owners(cm):
    """Manager (operation) -> FieldsV1 of each managedFields entry."""
    return {(e.manager, e.operation): e.fields_v1 for e in cm.metadata.managed_fields or []}


def api_error(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except (ApiException, DynamicApiError) as e:
        return e.status, json.loads(e.body)
    raise AssertionError("the call succeeded")


def server_side_apply(core):
    created = apply_cm(core, "mgr-a", {"a": "1", "b": "2"})
    assert created.data == {"a": "1", "b": "2"}, created.data
    assert owners(created) == {("mgr-a", "Apply"): {"f:data": {"f:a": {}, "f:b": {}}}}, owners(created)
    again = apply_cm(core, "mgr-a", {"a": "1", "b": "2"})
    assert again.metadata.resource_version == created.metadata.resource_version, "an unchanged apply writes nothing"
    ok("apply creates, records managed fields, and an unchanged apply writes nothing")

    code, status = api_error(apply_cm, core, "mgr-b", {"a": "changed"})
    assert code == 409 and status["reason"] == "Conflict", status
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "mgr-a": .data.a', status["message"]
    assert status["details"]["causes"] == [
        {"type": "FieldManagerConflict", "message": 'conflict with "mgr-a"', "field": ".data.a"}], status
    forced = apply_cm(core, "mgr-b", {"a": "changed"}, force=True)
    assert forced.data == {"a": "changed", "b": "2"}, forced.data
    assert owners(forced) == {("mgr-a", "Apply"): {"f:data": {"f:b": {}}},
                              ("mgr-b", "Apply"): {"f:data": {"f:a": {}}}}, owners(forced)
    ok("a conflict names the manager and the field; force takes the field over")

    apply_cm(core, "mgr-c", {"b": "2"})  # the same value: shared, no conflict
    apply_cm(core, "mgr-a", {"c": "3"})  # mgr-a stops stating b: mgr-c still owns it
    kept = core.read_namespaced_config_map("ssa", NS)
    assert kept.data == {"a": "changed", "b": "2", "c": "3"}, kept.data
    released = apply_cm(core, "mgr-a", {})
    assert released.data == {"a": "changed", "b": "2"}, "c had no other owner: " + str(released.data)
    ok("fields a manager stops applying go unless another manager owns them")

    configmaps = DYNAMIC.resources.get(api_version="v1", kind="ConfigMap")
    code, status = api_error(configmaps.patch, body={"data": {}}, name="ssa", namespace=NS, content_type=APPLY)
    assert code == 422, (code, status)
    assert "fieldManager: Required value" in status["message"], status["message"]
    ok("apply without a fieldManager is refused")

    core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta("updated"), data={"x": "1"}),
                                      field_manager="creator")
    made = core.read_namespaced_config_map("updated", NS)
    assert owners(made) == {("creator", "Update"): {"f:data": {".": {}, "f:x": {}}}}, owners(made)
    code, status = api_error(apply_cm, core, "mgr-a", {"x": "2"}, name="updated")
    assert code == 409 and 'conflict with "creator" using v1 at ' in status["message"], status["message"]
    core.patch_namespaced_config_map("updated", NS, {"data": {"y": "2"}}, field_manager="patcher")
    patched = core.read_namespaced_config_map("updated", NS)
    assert owners(patched)[("patcher", "Update")] == {"f:data": {"f:y": {}}}, owners(patched)
    ok("creates and patches record Update managers that applies conflict with")


def pagination(core):
    for i in range(5):
        core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta(f"page-{i}", paged="yes"), data={}))
    first = core.list_namespaced_config_map(NS, limit=2, label_selector="paged=yes")
    assert [c.metadata.name for c in first.items] == ["page-0", "page-1"], first.items
    assert first.metadata._continue and first.metadata.remaining_item_count is None, first.metadata
    core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta("page-9", paged="yes"), data={}))
    core.delete_namespaced_config_map("page-3", NS)
    names, token = [], first.metadata._continue
    while token:
        page = core.list_namespaced_config_map(NS, limit=2, label_selector="paged=yes", _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version, "one revision for all pages"
        names += [c.metadata.name for c in page.items]
        token = page.metadata._continue
    assert names == ["page-2", "page-3", "page-4"], f"the list as it was at the first page: {names}"
    unfiltered = core.list_namespaced_config_map(NS, limit=1)
    total = len(core.list_namespaced_config_map(NS).items)
    assert unfiltered.metadata.remaining_item_count == total - 1, (unfiltered.metadata, total)
    forged = base64.urlsafe_b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": 1, "start": "x"}).encode()).decode()
    code, status = api_error(core.list_namespaced_config_map, NS, limit=2, _continue=forged)
    assert code == 410 and status["reason"] == "Expired", (code, status)
    ok("limit and continue page one revision; remainingItemCount; an expired token is 410")


def delete_collection(core):
    for i in range(3):
        core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta(f"sweep-{i}", sweep="yes"), data={}))
    core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta("keep", sweep="no"), data={}))
    core.delete_collection_namespaced_config_map(NS, label_selector="sweep=yes")
    left = [c.metadata.name for c in core.list_namespaced_config_map(NS, label_selector="sweep").items]
    assert left == ["keep"], left
    resources = {r.name: r for r in core.get_api_resources().resources}
    assert "deletecollection" in resources["configmaps"].verbs, resources["configmaps"].verbs
    assert "deletecollection" not in resources["namespaces"].verbs
    for sub, verbs in [("pods/log", ["get"]), ("pods/exec", ["create", "get"]), ("pods/binding", ["create"]),
                       ("pods/portforward", ["create", "get"]), ("pods/status", ["get", "patch", "update"])]:
        assert sorted(resources[sub].verbs) == verbs, (sub, resources[sub].verbs)
    api = client.ApiClient()
    for path in ["/api/", "/apis/"]:
        data, code, _ = api.call_api(path, "GET", auth_settings=["BearerToken"], _preload_content=False)
        assert code == 200 and json.loads(data.data)["kind"] in ("APIVersions", "APIGroupList"), (path, code)
    ok("deletecollection by label; discovery lists subresources and verbs; /api/ and /apis/")


def wait_for(what, check, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"waited {seconds} s for {what}")


def gone(call, *args):
    return status_of(call, *args) == 404


def namespace_deletion(core):
    doomed = "doomed"
    core.create_namespace(client.V1Namespace(metadata=meta(doomed)))
    assert core.read_namespace(doomed).spec.finalizers == ["kubernetes"]
    core.create_namespaced_config_map(doomed, client.V1ConfigMap(metadata=meta("plain"), data={}))
    held = client.V1ObjectMeta(name="held", finalizers=["example.com/hold"])
    core.create_namespaced_config_map(doomed, client.V1ConfigMap(metadata=held, data={}))
    core.delete_namespace(doomed)
    terminating = core.read_namespace(doomed)
    assert terminating.status.phase == "Terminating" and terminating.metadata.deletion_timestamp, terminating
    wait_for("the plain ConfigMap to go", lambda: gone(core.read_namespaced_config_map, "plain", doomed))
    assert core.read_namespaced_config_map("held", doomed).metadata.deletion_timestamp, "held by its finalizer"
    assert core.read_namespace(doomed).status.phase == "Terminating", "the namespace waits for what it holds"
    code, status = api_error(core.create_namespaced_config_map, doomed,
                             client.V1ConfigMap(metadata=meta("late"), data={}))
    assert code == 403 and status["reason"] == "Forbidden", (code, status)
    assert status["message"] == ('configmaps "late" is forbidden: unable to create new content in namespace '
                                 'doomed because it is being terminated'), status["message"]
    assert status["details"]["causes"][0]["type"] == "NamespaceTerminating", status
    core.patch_namespaced_config_map("held", doomed, {"metadata": {"finalizers": None}})
    wait_for("the namespace to go", lambda: gone(core.read_namespace, doomed))
    ok("namespace deletion: Terminating, emptied with finalizers respected, creates refused, then gone")


def orphan_deletion(apps):
    template = pod_template("orphans")
    apps.create_namespaced_deployment(NS, client.V1Deployment(
        metadata=meta("orphaner"),
        spec=client.V1DeploymentSpec(replicas=0, selector=client.V1LabelSelector(match_labels={"app": "orphans"}),
                                     template=template)))
    owned = wait_for("the Deployment's ReplicaSet", lambda: apps.list_namespaced_replica_set(
        NS, label_selector="app=orphans").items)
    assert owned[0].metadata.owner_references, owned[0].metadata
    apps.delete_namespaced_deployment("orphaner", NS, propagation_policy="Orphan")
    wait_for("the Deployment to go", lambda: gone(apps.read_namespaced_deployment, "orphaner", NS))
    left = apps.read_namespaced_replica_set(owned[0].metadata.name, NS)
    assert not left.metadata.owner_references and left.metadata.deletion_timestamp is None, left.metadata
    ok("propagationPolicy Orphan: the owner goes, its ReplicaSet stays, released")


def statuses(apps):
    template = pod_template("stored")
    apps.create_namespaced_stateful_set(NS, client.V1StatefulSet(
        metadata=meta("stored"),
        spec=client.V1StatefulSetSpec(service_name="stored", selector=client.V1LabelSelector(
            match_labels={"app": "stored"}), template=template)))
    raw = json.loads(apps.read_namespaced_stateful_set("stored", NS, _preload_content=False).data)
    assert raw["status"] == {"replicas": 0, "availableReplicas": 0}, raw.get("status")

    def progressing():
        conditions = apps.read_namespaced_deployment("busy", NS).status.conditions or []
        return [c.message for c in conditions if c.type == "Progressing"]
    message = wait_for("the Deployment's Progressing condition", progressing)[0]
    assert message.startswith('ReplicaSet "busy-') and '""' not in message, message
    ok("a new object's zero status; a Deployment's Progressing condition names its ReplicaSet")


def validation(core):
    code, status = api_error(core.create_namespaced_service, NS, client.V1Service(
        metadata=meta("bad-port"), spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=70000, protocol="HTTP")])))
    assert code == 422 and status["reason"] == "Invalid", (code, status)
    causes = {(c["field"], c["message"]) for c in status["details"]["causes"]}
    assert ("spec.ports[0].port", "Invalid value: 70000: must be between 1 and 65535, inclusive") in causes, causes
    assert ("spec.ports[0].protocol",
            'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"') in causes, causes
    ok("validation: 422 with kube-apiserver's field paths and messages")


def events_v1(core):
    events = client.EventsV1Api()
    made = events.create_namespaced_event(NS, client.EventsV1Event(
        metadata=meta("seen"), event_time=datetime.datetime.now(datetime.timezone.utc), action="Checked",
        reason="Seen", note="seen through events.k8s.io", type="Normal", reporting_controller="tests/conventions",
        reporting_instance="api-conventions", regarding=client.V1ObjectReference(kind="ConfigMap", name="hot",
                                                                                  namespace=NS)))
    assert made.note == "seen through events.k8s.io" and made.regarding.name == "hot", made
    core_view = core.read_namespaced_event("seen", NS)
    assert core_view.message == made.note and core_view.involved_object.name == "hot", core_view
    assert core_view.reporting_component == "tests/conventions", core_view
    # (Only this one: the client cannot read Events recorded without eventTime, as against any cluster.)
    listed = [e.metadata.name for e in events.list_namespaced_event(NS, field_selector="metadata.name=seen").items]
    assert listed == ["seen"], listed
    ok("events.k8s.io/v1 Events over the core Events' storage")


def eviction(core):
    """The eviction subresource against a PodDisruptionBudget kept by the disruption controller."""
    policy = client.PolicyV1Api()
    resources = core.get_api_resources().resources
    listed = [r for r in resources if r.name == "pods/eviction"]
    assert listed and (listed[0].group, listed[0].version, listed[0].kind) == ("policy", "v1", "Eviction"), listed

    def pod(name, running=True, ready=True):
        # Never placed (no node has the label): the status is written by hand, as an agent would.
        core.create_namespaced_pod(NS, client.V1Pod(metadata=meta(name, app="evict"), spec=client.V1PodSpec(
            node_selector={"nowhere": "true"}, containers=[client.V1Container(name="c", image="registry.local/x:1")])))
        if running:
            set_ready(name, ready)

    def set_ready(name, ready):
        core.patch_namespaced_pod_status(name, NS, {"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True" if ready else "False"}]}})

    def evict(name):
        return core.create_namespaced_pod_eviction(name, NS, client.V1Eviction(metadata=meta(name)))

    def budget(**expected):
        def matches():
            status = policy.read_namespaced_pod_disruption_budget("evict", NS).status
            return all(getattr(status, k) == v for k, v in expected.items())
        wait_for(f"the budget's status {expected}", matches)

    for name in ["ev-a", "ev-b", "ev-c"]:
        pod(name)
    policy.create_namespaced_pod_disruption_budget(NS, client.V1PodDisruptionBudget(
        metadata=meta("evict"), spec=client.V1PodDisruptionBudgetSpec(
            min_available=2, selector=client.V1LabelSelector(match_labels={"app": "evict"}))))
    budget(observed_generation=1, current_healthy=3, desired_healthy=2, expected_pods=3, disruptions_allowed=1)
    evict("ev-a")
    assert gone(core.read_namespaced_pod, "ev-a", NS)
    budget(current_healthy=2, disruptions_allowed=0)
    code, body = api_error(evict, "ev-b")
    assert code == 429 and body["reason"] == "TooManyRequests", body
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget.", body
    assert body["details"]["causes"] == [{"reason": "DisruptionBudget",
        "message": "The disruption budget evict needs 2 healthy pods and has 2 currently"}], body
    core.read_namespaced_pod("ev-b", NS)
    # A pod that is not running disrupts nothing: evicted whatever the budget says.
    pod("ev-pending", running=False)
    evict("ev-pending")
    assert gone(core.read_namespaced_pod, "ev-pending", NS)
    # An unhealthy pod, while the budget is not met: only with unhealthyPodEvictionPolicy AlwaysAllow.
    set_ready("ev-c", False)
    budget(current_healthy=1, disruptions_allowed=0)
    assert api_error(evict, "ev-c")[0] == 429
    policy.patch_namespaced_pod_disruption_budget("evict", NS, {"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}})
    budget(observed_generation=2)
    evict("ev-c")
    assert gone(core.read_namespaced_pod, "ev-c", NS)
    # Two budgets over one pod: refused, as Kubernetes refuses it.
    policy.create_namespaced_pod_disruption_budget(NS, client.V1PodDisruptionBudget(
        metadata=meta("evict-too"), spec=client.V1PodDisruptionBudgetSpec(
            max_unavailable=1, selector=client.V1LabelSelector(match_labels={"app": "evict"}))))
    code, body = api_error(evict, "ev-b")
    assert code == 500 and "more than one PodDisruptionBudget" in body["message"], body
    ok("eviction: a PodDisruptionBudget's disruptions allowed, 429 when none, pending and unhealthy pods")


def main(kubeconfig):
    config.load_kube_config(config_file=kubeconfig)
    core, apps, batch = client.CoreV1Api(), client.AppsV1Api(), client.BatchV1Api()
    global DYNAMIC
    DYNAMIC = dynamic.DynamicClient(client.ApiClient())
    core.create_namespace(client.V1Namespace(metadata=meta(NS)))
    concurrent_writes(core, apps, batch)
    delete_preconditions(core)
    server_side_apply(core)
    pagination(core)
    delete_collection(core)
    namespace_deletion(core)
    orphan_deletion(apps)
    statuses(apps)
    validation(core)
    events_v1(core)
    eviction(core)


if __name__ == "__main__":
    main(sys.argv[1])
