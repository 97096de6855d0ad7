"""One official Python client (PyPI `kubernetes`: one ApiClient, its connections kept alive) listing
namespaces every 100 ms for SECONDS, while the server's certificates change underneath it. Prints
`requests N failed M` and each failure; exits 0 either way (the test judges).

    target/pyclient/bin/python tests/python/steady_client.py KUBECONFIG SECONDS
"""

import sys
import time

from kubernetes import client, config


def main(kubeconfig, seconds):
    config.load_kube_config(config_file=kubeconfig)
    core = client.CoreV1Api()
    end = time.monotonic() + float(seconds)
    requests = failed = 0
    while time.monotonic() < end:
        requests += 1
        try:
            core.list_namespace(_request_timeout=5)
        except Exception as e:  # every failure counts, whatever it is
            failed += 1
            print("failed:", type(e).__name__, str(e)[:200], flush=True)
        time.sleep(0.1)
    print(f"requests {requests} failed {failed}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
