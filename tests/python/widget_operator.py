"""An operator for tests/crds/widgets.yaml, written with kopf (PyPI): each Widget gets a Deployment of its
image and replica count, owned by the Widget; the Widget's status says what was deployed and how many of its
pods are ready (a timer reads the Deployment's status); a Widget being deleted is held by kopf's finalizer
until the cleanup handler has recorded it in a ConfigMap `<name>-cleaned`.

Run: python -m kopf run --standalone -n NAMESPACE widget_operator.py (KUBECONFIG set).
"""

import kopf
import kubernetes

GROUP, VERSION, PLURAL = "kubeboot-test.example.com", "v1", "widgets"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    settings.persistence.finalizer = f"{GROUP}/widget-operator"
    settings.watching.server_timeout = 60
    settings.watching.client_timeout = 70
    kubernetes.config.load_kube_config()


def deployment_of(name, spec):
    labels = {"widget": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{name}-app", "labels": labels},
        "spec": {
            "replicas": spec.get("replicas", 1),
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": spec["image"]}]},
            },
        },
    }


@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
@kopf.on.resume(GROUP, VERSION, PLURAL)
def reconcile(spec, name, namespace, body, patch, logger, **_):
    deployment = deployment_of(name, spec)
    kopf.adopt(deployment, owner=body)
    apps = kubernetes.client.AppsV1Api()
    try:
        apps.create_namespaced_deployment(namespace, deployment)
    except kubernetes.client.exceptions.ApiException as e:
        if e.status != 409:
            raise
        apps.patch_namespaced_deployment(f"{name}-app", namespace, {"spec": deployment["spec"]})
    patch.status["phase"] = "Deployed"
    patch.status["replicas"] = spec.get("replicas", 1)
    patch.status["selector"] = f"widget={name}"
    logger.info(f"deployed {name}-app")


@kopf.timer(GROUP, VERSION, PLURAL, interval=2.0, idle=0)
def ready_pods(name, namespace, status, patch, **_):
    apps = kubernetes.client.AppsV1Api()
    try:
        deployed = apps.read_namespaced_deployment_status(f"{name}-app", namespace)
    except kubernetes.client.exceptions.ApiException:
        return
    ready = deployed.status.ready_replicas or 0
    if status.get("readyReplicas") != ready:
        patch.status["readyReplicas"] = ready


@kopf.on.delete(GROUP, VERSION, PLURAL)
def cleanup(name, namespace, **_):
    core = kubernetes.client.CoreV1Api()
    core.create_namespaced_config_map(namespace, {"metadata": {"name": f"{name}-cleaned"}, "data": {"by": "kopf"}})
