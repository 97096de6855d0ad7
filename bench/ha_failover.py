"""Three masters on etcd: what a master's power cut costs the API's clients (bench/ha_failover.sh runs it).

Per trial: a writer creates ConfigMaps back to back through the two masters that stay up (the official
Python client), a watcher follows them through the master that is cut and resumes on another master from
the last resourceVersion it saw, and the power of the master holding the controllers' Lease is cut
(`kubeboot lab power-off`). Right after the cut the Deployment `web` is scaled up through a survivor.
Measured: the longest pause between two acknowledged writes around the cut, and from the cut the first
action of the controllers (the new pods exist) and when the watch delivered again; counted: acknowledged
writes lost, events missed or seen twice.
Usage: python ha_failover.py KUBEBOOT ADMIN_CONF TRIALS
"""

import statistics
import subprocess
import sys
import threading
import time

from kubernetes import client, config, watch

MASTERS = [("lab-master1", "10.88.0.10"), ("lab-master2", "10.88.0.11"), ("lab-master3", "10.88.0.12")]


def clients(admin_conf):
    text = open(admin_conf).read()
    server = next(l.split("server:")[1].strip() for l in text.splitlines() if "server:" in l)
    apis = {}
    for name, address in MASTERS:
        path = f"{admin_conf}.{name}"
        open(path, "w").write(text.replace(server, f"https://{address}:6443"))
        apis[name] = config.new_client_from_config(config_file=path)
    return apis


def holder(api):
    lease = client.CoordinationV1Api(api).read_namespaced_lease("kube-controller-manager", "kube-system")
    return lease.spec.holder_identity.rsplit("_", 1)[0]


def wait_whole(kb, apis, limit=240):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            if all(client.VersionApi(a).get_code(_request_timeout=3) for a in apis.values()):
                nodes = client.CoreV1Api(apis["lab-master1"]).list_node(_request_timeout=5).items
                ready = [n for n in nodes if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)]
                if len(ready) == 5:
                    return
        except Exception:
            pass
        time.sleep(1)
    raise SystemExit("the cluster did not come back whole")


def trial(kb, apis, n, replicas):
    cut_name = holder(apis["lab-master1"])
    survivors = [apis[name] for name, _ in MASTERS if name != cut_name]
    core_cut = client.CoreV1Api(apis[cut_name])
    start_rv = core_cut.list_namespaced_config_map("default", _request_timeout=10).metadata.resource_version
    prefix = f"t{n}-"
    acked, events = [], []
    stop = threading.Event()
    state = {"cut": None, "resumed": None, "watch_error": None}

    def writer():
        i = 0
        while not stop.is_set():
            name = f"{prefix}{i}"
            api = client.CoreV1Api(survivors[i % 2])
            try:
                api.create_namespaced_config_map("default", {"metadata": {"name": name}}, _request_timeout=30)
                acked.append((name, time.time()))
            except Exception:
                pass
            i += 1

    def watcher():
        rv, target = start_rv, core_cut
        while not stop.is_set():
            try:
                stream = watch.Watch().stream(
                    target.list_namespaced_config_map, "default", resource_version=rv, _request_timeout=(3, 3)
                )
                for event in stream:
                    obj = event["object"]
                    rv = obj.metadata.resource_version
                    if state["cut"] and target is not core_cut and state["resumed"] is None:
                        state["resumed"] = time.time()
                    if event["type"] == "ADDED" and obj.metadata.name.startswith(prefix):
                        events.append(obj.metadata.name)
                    if stop.is_set():
                        return
            except Exception as e:  # the cut master stopped answering: resume elsewhere from rv
                state["watch_error"] = str(e)[:80]
                if state["cut"]:
                    target = client.CoreV1Api(survivors[0])

    threads = [threading.Thread(target=writer), threading.Thread(target=watcher)]
    for t in threads:
        t.start()
    time.sleep(3)
    state["cut"] = time.time()
    subprocess.run([kb, "lab", "power-off", cut_name], check=True, capture_output=True)
    apps = client.AppsV1Api(survivors[0])
    core = client.CoreV1Api(survivors[0])
    while True:
        try:
            apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": replicas}}, _request_timeout=20)
            break
        except Exception:
            time.sleep(0.05)
    while True:
        try:
            pods = core.list_namespaced_pod("default", label_selector="app=web", _request_timeout=10).items
            if len([p for p in pods if not p.metadata.deletion_timestamp]) == replicas:
                acted = time.time()
                break
        except Exception:
            pass
        time.sleep(0.05)
    time.sleep(max(0, state["cut"] + 12 - time.time()))
    stop.set()
    for t in threads:
        t.join()
    cut = state["cut"]
    # Writes are answered back to back: the longest wait between two answers around the cut is how long
    # the API did not take writes (the cut master's etcd member may have been etcd's leader).
    times = [t for _, t in acked if cut - 1 < t < cut + 12]
    paused = max(b - a for a, b in zip(times, times[1:])) if len(times) > 1 else float("nan")
    present = {c.metadata.name for c in core.list_namespaced_config_map("default").items}
    lost = [name for name, _ in acked if name not in present]
    seen = set(events)
    missed = [name for name, _ in acked if name not in seen]
    twice = len(events) - len(seen)
    subprocess.run([kb, "lab", "power-on", cut_name], check=True, capture_output=True)
    wait_whole(kb, apis)
    return {
        "cut": cut_name,
        "write": paused,
        "controllers": acted - cut,
        "watch": (state["resumed"] - cut) if state["resumed"] else float("nan"),
        "acked": len(acked),
        "lost": len(lost),
        "missed": len(missed),
        "twice": twice,
    }


def main():
    kb, admin_conf, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    apis = clients(admin_conf)
    apps = client.AppsV1Api(apis["lab-master1"])
    apps.create_namespaced_deployment(
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "kubetm/p8000"}]},
                },
            },
        },
    )
    results = []
    for n in range(trials):
        r = trial(kb, apis, n, 3 + n)
        results.append(r)
        print(
            f"trial {n + 1}: cut {r['cut']}: writes paused {r['write']:.2f} s at most, controllers acted "
            f"{r['controllers']:.2f} s, watch delivered again {r['watch']:.2f} s; {r['acked']} writes acknowledged, "
            f"{r['lost']} lost; watch missed {r['missed']}, saw {r['twice']} twice",
            flush=True,
        )
    for key, label in [("write", "longest pause between acknowledged writes"), ("controllers", "controllers acted"), ("watch", "watch delivered again")]:
        values = [r[key] for r in results]
        print(f"{label}: median {statistics.median(values):.2f} s, max {max(values):.2f} s (n={len(values)})")
    print(
        f"acknowledged writes lost: {sum(r['lost'] for r in results)}; watch events missed: "
        f"{sum(r['missed'] for r in results)}, seen twice: {sum(r['twice'] for r in results)}"
    )


if __name__ == "__main__":
    main()
