"""The official Kubernetes Python client (PyPI `kubernetes`, installed by .ci/setup into target/pyclient)
against a kubeboot API server: list nodes (the client requires every nodeInfo field), CRUD, patch, replace,
watch, scale and list with label and field selectors on the served kinds (and create, read, patch, list
and delete of every other served kind), defaults read back through the
client's typed models, and a SelfSubjectAccessReview. Prints `ok <check>` per check; any failure raises.

    target/pyclient/bin/python tests/python/client_compat.py KUBECONFIG
"""

import base64
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

NS = "py"


def ok(check):
    print("ok", check, flush=True)


def meta(name, **labels):
    return client.V1ObjectMeta(name=name, labels=labels or None)


def pod_template(app):
    container = client.V1Container(name="app", image="registry.local/app:v1",
                                   ports=[client.V1ContainerPort(container_port=8080)])
    return client.V1PodTemplateSpec(metadata=meta(None, app=app), spec=client.V1PodSpec(containers=[container]))


def not_found(call, *args):
    try:
        call(*args)
    except ApiException as e:
        return e.status == 404
    return False


def other_kinds(core):
    """(API, the client's name for the kind, namespaced, a valid body) of every served kind the checks above
    do not create."""
    selector = {"matchLabels": {"app": "x"}}
    template = {"metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [{"name": "c", "image": "registry.local/app:v1"}]}}
    rule = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    subject = [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"}]
    return [
        (core, "persistent_volume", False, {"spec": {"capacity": {"storage": "1Gi"},
                                                     "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/srv"}}}),
        (core, "persistent_volume_claim", True, {"spec": {"accessModes": ["ReadWriteOnce"],
                                                          "resources": {"requests": {"storage": "1Gi"}}}}),
        (core, "endpoints", True, {"subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 80}]}]}),
        (core, "service_account", True, {}),
        (core, "replication_controller", True, {"spec": {"replicas": 0, "template": template}}),
        (core, "event", True, {"involvedObject": {"kind": "Pod", "name": "solo", "namespace": NS},
                               "reason": "Checked", "message": "by the Python client", "type": "Normal"}),
        (client.AppsV1Api(), "replica_set", True, {"spec": {"replicas": 0, "selector": selector, "template": template}}),
        (client.AppsV1Api(), "daemon_set", True, {"spec": {"selector": selector, "template": template}}),
        (client.AppsV1Api(), "stateful_set", True, {"spec": {"replicas": 0, "serviceName": "x", "selector": selector,
                                                             "template": template}}),
        (client.NetworkingV1Api(), "ingress", True, {"spec": {"defaultBackend": {"service": {
            "name": "web", "port": {"number": 80}}}}}),
        (client.NetworkingV1Api(), "network_policy", True, {"spec": {"podSelector": {}}}),
        (client.RbacAuthorizationV1Api(), "role", True, {"rules": [rule]}),
        (client.RbacAuthorizationV1Api(), "role_binding", True, {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}, "subjects": subject}),
        (client.RbacAuthorizationV1Api(), "cluster_role", False, {"rules": [rule]}),
        (client.RbacAuthorizationV1Api(), "cluster_role_binding", False, {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
            "subjects": subject}),
        (client.AutoscalingV2Api(), "horizontal_pod_autoscaler", True, {"spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 3}}),
        (client.AutoscalingV1Api(), "horizontal_pod_autoscaler", True, {"spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 50}}),
        (client.PolicyV1Api(), "pod_disruption_budget", True, {"spec": {"minAvailable": 1, "selector": selector}}),
        (client.SchedulingV1Api(), "priority_class", False, {"value": 1000}),
        (client.StorageV1Api(), "storage_class", False, {"provisioner": "example.com/none"}),
        (client.DiscoveryV1Api(), "endpoint_slice", True, {"addressType": "IPv4",
                                                          "endpoints": [{"addresses": ["10.1.2.3"]}]}),
        (client.CoordinationV1Api(), "lease", True, {"spec": {"holderIdentity": "py"}}),
    ]


def every_other_kind(core):
    """Create, read, patch, list by the patched label and delete each kind, through the client's typed
    methods, so every answer is read into the client's models."""
    for api, kind, namespaced, body in other_kinds(core):
        name = "py-" + kind.replace("_", "-")
        scoped = "namespaced_" if namespaced else ""
        call = lambda verb, *args, **kw: getattr(api, f"{verb}_{scoped}{kind}")(*args, *([NS] if namespaced else []), **kw)
        made = call("create", body=dict(body, metadata={"name": name}))
        assert made.metadata.name == name and made.metadata.uid, (kind, made.metadata)
        assert call("read", name).metadata.uid == made.metadata.uid, kind
        patched = call("patch", name, body={"metadata": {"labels": {"checked": "py"}}})
        assert patched.metadata.labels == {"checked": "py"} or patched.metadata.labels.get("checked") == "py", kind
        listed = call("list", label_selector="checked=py").items
        assert [o.metadata.name for o in listed] == [name], (kind, listed)
        call("delete", name)
        try:
            gone = call("read", name).metadata.deletion_timestamp is not None  # held by a finalizer
        except ApiException as e:
            gone = e.status == 404
        assert gone, kind
    ok(f"create, read, patch, list and delete of {len(other_kinds(core))} more kinds")


def main(kubeconfig):
    config.load_kube_config(config_file=kubeconfig)
    core, apps, batch = client.CoreV1Api(), client.AppsV1Api(), client.BatchV1Api()

    assert client.VersionApi().get_code().major == "1"
    ok("version")

    nodes = core.list_node().items
    assert [n.metadata.name for n in nodes] == ["py-node"], nodes
    info = nodes[0].status.node_info
    assert info.kubelet_version and info.operating_system == "linux", info
    assert core.read_node("py-node").metadata.name == "py-node"
    ok("list and read nodes")

    core.create_namespace(client.V1Namespace(metadata=meta(NS)))
    assert core.read_namespace(NS).status.phase == "Active"
    ok("namespace")

    core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta("settings", app="py"), data={"a": "1"}))
    core.patch_namespaced_config_map("settings", NS, {"data": {"b": "2"}})
    got = core.read_namespaced_config_map("settings", NS)
    assert got.data == {"a": "1", "b": "2"}, got.data
    got.data["c"] = "3"
    replaced = core.replace_namespaced_config_map("settings", NS, got)
    assert replaced.data == {"a": "1", "b": "2", "c": "3"}
    assert int(replaced.metadata.resource_version) > int(got.metadata.resource_version)
    ok("configmap create, patch, read, replace")

    listed = core.list_namespaced_config_map(NS, label_selector="app=py").items
    assert [c.metadata.name for c in listed] == ["settings"], listed
    assert core.list_namespaced_config_map(NS, label_selector="app=other").items == []
    assert [c.metadata.name for c in core.list_config_map_for_all_namespaces(field_selector="metadata.name=settings").items] == ["settings"]
    ok("list with label and field selectors")

    since = core.list_namespaced_config_map(NS).metadata.resource_version
    core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta("later"), data={"x": "y"}))
    core.delete_namespaced_config_map("later", NS)
    seen = [(e["type"], e["object"].metadata.name)
            for e in watch.Watch().stream(core.list_namespaced_config_map, NS, resource_version=since, timeout_seconds=2)]
    assert seen == [("ADDED", "later"), ("DELETED", "later")], seen
    ok("watch from a resourceVersion")

    secret = core.create_namespaced_secret(NS, client.V1Secret(metadata=meta("creds"), string_data={"password": "s3cret"}))
    assert secret.type == "Opaque" and secret.string_data is None
    assert base64.b64decode(core.read_namespaced_secret("creds", NS).data["password"]) == b"s3cret"
    ok("secret stringData")

    service = core.create_namespaced_service(NS, client.V1Service(
        metadata=meta("web"),
        spec=client.V1ServiceSpec(selector={"app": "web"}, ports=[client.V1ServicePort(port=80)])))
    port = service.spec.ports[0]
    assert service.spec.cluster_ip and port.protocol == "TCP" and port.target_port == 80, service.spec
    assert service.spec.session_affinity == "None" and service.spec.ip_families == ["IPv4"], service.spec
    ok("service with a cluster IP and defaults")

    deployment = apps.create_namespaced_deployment(NS, client.V1Deployment(
        metadata=meta("web", app="web"),
        spec=client.V1DeploymentSpec(selector=client.V1LabelSelector(match_labels={"app": "web"}),
                                     template=pod_template("web"))))
    assert deployment.metadata.generation == 1
    assert deployment.spec.replicas == 1 and deployment.spec.strategy.rolling_update.max_surge == "25%"
    container = deployment.spec.template.spec.containers[0]
    assert container.image_pull_policy == "IfNotPresent" and container.ports[0].protocol == "TCP"
    ok("deployment with defaults")

    apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 3}})
    assert apps.read_namespaced_deployment_scale("web", NS).spec.replicas == 3
    assert apps.read_namespaced_deployment("web", NS).metadata.generation == 2
    apps.replace_namespaced_deployment_scale("web", NS, client.V1Scale(metadata=meta("web"), spec=client.V1ScaleSpec(replicas=2)))
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 2
    ok("scale subresource")

    job = batch.create_namespaced_job(NS, client.V1Job(
        metadata=meta("once"),
        spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
            restart_policy="Never", containers=[client.V1Container(name="c", image="busybox:1.36")])))))
    assert job.spec.backoff_limit == 6 and job.spec.completions == 1
    cron = batch.create_namespaced_cron_job(NS, client.V1CronJob(
        metadata=meta("tick"),
        spec=client.V1CronJobSpec(schedule="*/5 * * * *", job_template=client.V1JobTemplateSpec(
            spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
                restart_policy="OnFailure", containers=[client.V1Container(name="c", image="busybox:1.36")])))))))
    assert cron.spec.concurrency_policy == "Allow" and cron.spec.successful_jobs_history_limit == 3
    ok("job and cronjob")

    core.create_namespaced_pod(NS, client.V1Pod(metadata=meta("solo", app="solo"), spec=pod_template("solo").spec))
    pending = core.list_namespaced_pod(NS, field_selector="status.phase=Pending", label_selector="app=solo").items
    assert [p.metadata.name for p in pending] == ["solo"], pending
    assert pending[0].spec.restart_policy == "Always" and pending[0].spec.dns_policy == "ClusterFirst"
    ok("pods by field selector")

    review = client.AuthorizationV1Api().create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
            verb="create", group="apps", resource="deployments", namespace=NS))))
    assert review.status.allowed
    ok("self subject access review")

    every_other_kind(core)

    core.delete_namespaced_config_map("settings", NS)
    assert not_found(core.read_namespaced_config_map, "settings", NS)
    core.delete_namespaced_pod("solo", NS, grace_period_seconds=0)
    assert not_found(core.read_namespaced_pod, "solo", NS)
    ok("delete")


if __name__ == "__main__":
    main(sys.argv[1])
