"""The official Kubernetes Python client's streaming calls against a kubeboot cluster, on the pod `talker`
(tests/manifests/workloads/talker.yaml, running): logs (whole, tail with timestamps, followed, the 400 for
a pod of two containers with none named), exec over the client's WebSocket (v4.channel.k8s.io: stdout,
stderr and the exit status) and port-forward to c2's HTTP port. Prints `ok <check>` per check; any failure
raises.

    target/pyclient/bin/python tests/python/client_streams.py KUBECONFIG
"""

import sys

from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.stream import portforward, stream

POD, NS = "talker", "default"


def ok(check):
    print("ok", check, flush=True)


def main(kubeconfig):
    config.load_kube_config(config_file=kubeconfig)
    core = client.CoreV1Api()

    logs = core.read_namespaced_pod_log(POD, NS, container="c1")
    assert logs.startswith("hello-from-talker\n"), logs
    ok("logs")

    tail = core.read_namespaced_pod_log(POD, NS, container="c1", tail_lines=2, timestamps=True)
    lines = tail.splitlines()
    assert len(lines) == 2 and all(l.split(" ", 1)[0].endswith("Z") for l in lines), tail
    ok("logs tail and timestamps")

    followed = core.read_namespaced_pod_log(POD, NS, container="c1", follow=True, tail_lines=1,
                                            _preload_content=False)
    seen = b""
    for chunk in followed.stream(64):
        seen += chunk
        if seen.count(b"\n") >= 2:  # the tail line, then one printed after the request
            break
    followed.release_conn()
    assert seen.count(b"tick ") >= 2, seen
    ok("logs follow")

    try:
        core.read_namespaced_pod_log(POD, NS)
        raise AssertionError("no container named, yet logs came back")
    except ApiException as e:
        assert e.status == 400 and "a container name must be specified" in e.body, (e.status, e.body)
    ok("logs without a container")

    out = stream(core.connect_get_namespaced_pod_exec, POD, NS, container="c1",
                 command=["echo", "from-python"], stdout=True, stderr=False, stdin=False, tty=False)
    assert out == "from-python\n", repr(out)
    ok("exec")

    session = stream(core.connect_get_namespaced_pod_exec, POD, NS, container="c1",
                     command=["sh", "-c", "echo to-stderr >&2; exit 3"], stdout=True, stderr=True, stdin=False,
                     tty=False, _preload_content=False)
    session.run_forever(timeout=20)
    err = session.read_stderr()
    code = session.returncode
    session.close()
    assert err == "to-stderr\n" and code == 3, (err, code)
    ok("exec stderr and exit status")

    forward = portforward(core.connect_get_namespaced_pod_portforward, POD, NS, ports="8000")
    sock = forward.socket(8000)
    sock.setblocking(True)
    sock.sendall(b"GET / HTTP/1.0\r\nHost: talker\r\n\r\n")
    reply = b""
    while True:
        data = sock.recv(4096)
        if not data:
            break
        reply += data
    sock.close()
    assert reply.startswith(b"HTTP/1.") and b"8000" in reply, reply[:200]
    assert forward.error(8000) is None, forward.error(8000)
    ok("port-forward")


if __name__ == "__main__":
    main(sys.argv[1])
