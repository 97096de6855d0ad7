"""The API server's /metrics as Prometheus would read it: fetched with the official Kubernetes Python client
(PyPI `kubernetes`) and parsed with Prometheus' own Python parser (PyPI `prometheus_client`), after requests
whose verbs, resources and codes the counters must show, and with a watch held open. Prints `ok <check>` per
check; any failure raises.

    target/pyclient/bin/python tests/python/metrics_scrape.py KUBECONFIG
"""

import sys
import threading
import time

from kubernetes import client, config
from kubernetes.client.rest import ApiException
from prometheus_client.parser import text_string_to_metric_families

NS = "metrics"


def ok(check):
    print("ok", check, flush=True)


def scrape(api):
    raw = api.call_api("/metrics", "GET", auth_settings=["BearerToken"], _preload_content=False)[0]
    families = {}
    for family in text_string_to_metric_families(raw.data.decode()):
        families[family.name] = family
    return families


def samples(families, name, suffix="", **labels):
    family = families.get(name)
    if family is None:
        return []
    return [s for s in family.samples
            if s.name == name + suffix and all(s.labels.get(k) == v for k, v in labels.items())]


def value(families, name, suffix="", **labels):
    return sum(s.value for s in samples(families, name, suffix, **labels))


def main():
    config.load_kube_config(config_file=sys.argv[1])
    api = client.ApiClient()
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    before = scrape(api)

    for i in range(3):
        core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"c{i}")))
    core.list_namespaced_config_map(NS)
    try:
        core.read_namespaced_config_map("absent", NS)
    except ApiException as e:
        assert e.status == 404, e
    after = scrape(api)
    created = value(after, "apiserver_request", "_total", verb="POST", resource="configmaps", code="201") - \
        value(before, "apiserver_request", "_total", verb="POST", resource="configmaps", code="201")
    assert created == 3, created
    assert value(after, "apiserver_request", "_total", verb="LIST", resource="configmaps", scope="namespace",
                 code="200") >= 1
    assert value(after, "apiserver_request", "_total", verb="GET", resource="configmaps", scope="resource",
                 code="404") >= 1
    ok("apiserver_request_total by verb, resource, scope and code")

    count = value(after, "apiserver_request_duration_seconds", "_count", verb="POST", resource="configmaps")
    inf = value(after, "apiserver_request_duration_seconds", "_bucket", verb="POST", resource="configmaps", le="+Inf")
    buckets = samples(after, "apiserver_request_duration_seconds", "_bucket", verb="POST", resource="configmaps")
    assert count >= 3 and inf == count, (count, inf)
    bounds = {float(s.labels["le"]) for s in buckets}
    assert bounds >= {0.005, 0.1, 1.0, 60.0, float("inf")}, sorted(bounds)
    ok("apiserver_request_duration_seconds histogram")

    # A watch held open by another client: counted while it lasts.
    opened = threading.Event()

    def hold_watch():
        response = core.list_namespaced_config_map(NS, watch=True, timeout_seconds=5, _preload_content=False)
        opened.set()
        for _ in response.stream(64):
            pass

    watcher = threading.Thread(target=hold_watch)
    watcher.start()
    assert opened.wait(5)
    during = scrape(api)
    open_watches = value(during, "apiserver_longrunning_requests", verb="WATCH", resource="configmaps")
    assert open_watches >= 1, open_watches
    assert value(during, "apiserver_watch_events", "_total", kind="ConfigMap") >= 3
    watcher.join()
    ended = scrape(api)
    assert value(ended, "apiserver_longrunning_requests", verb="WATCH", resource="configmaps") == open_watches - 1
    ok("apiserver_longrunning_requests counts open watches")

    # A ReplicaSet for the controller manager to reconcile.
    template = client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={"app": "m"}), spec=client.V1PodSpec(
        containers=[client.V1Container(name="c", image="registry.local/app:v1")]))
    client.AppsV1Api(api).create_namespaced_replica_set(NS, client.V1ReplicaSet(
        metadata=client.V1ObjectMeta(name="m"),
        spec=client.V1ReplicaSetSpec(replicas=0, selector=client.V1LabelSelector(match_labels={"app": "m"}),
                                     template=template)))
    for _ in range(150):  # up to 30 s: the controllers start once the Lease is taken
        families = scrape(api)
        if value(families, "kubeboot_controller_reconciles", "_total", controller="replicaset") >= 1:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("no replicaset reconcile counted: " + str(sorted(families)))
    ok("the controllers' counters on the same page")


main()
