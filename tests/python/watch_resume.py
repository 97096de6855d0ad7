"""A watch that outlives its master, with the official Python client: ConfigMaps watched from a
resourceVersion through one master (FIRST_KUBECONFIG); when that master stops answering (3 s without a
byte while writes go on), the watch resumes through another (SECOND_KUBECONFIG) from the last
resourceVersion it saw, as client-go's reflector does. Ends when ConfigMap END is added; prints one JSON
line: the ADDED names in order, and whether it resumed. Usage: watch_resume.py FIRST SECOND PREFIX END
"""

import json
import sys

from kubernetes import config, client, watch

first, second, prefix, end = sys.argv[1:5]
apis = [client.CoreV1Api(config.new_client_from_config(config_file=path)) for path in (first, second)]
rv = apis[0].list_namespaced_config_map("default").metadata.resource_version
print("ready", flush=True)
added, resumed, current = [], False, 0
while True:
    try:
        stream = watch.Watch().stream(
            apis[current].list_namespaced_config_map, "default", resource_version=rv, _request_timeout=(3, 3)
        )
        for event in stream:
            obj = event["object"]
            rv = obj.metadata.resource_version
            if event["type"] == "ADDED" and obj.metadata.name.startswith(prefix):
                added.append(obj.metadata.name)
            if event["type"] == "ADDED" and obj.metadata.name == end:
                print(json.dumps({"added": added, "resumed": resumed}), flush=True)
                sys.exit(0)
    except Exception:  # the master went away (or a quiet moment): go on from rv through the other
        if current == 0:
            current, resumed = 1, True
