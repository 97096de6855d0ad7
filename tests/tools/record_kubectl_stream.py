#!/usr/bin/env python3
"""Record what a real kubectl and the API server say to each other, for the streaming framing tests.

A plain-HTTP relay on 127.0.0.1:PORT: kubectl talks to it (--server http://127.0.0.1:PORT, no TLS), the relay
forwards over TLS to the real API server with the admin's client certificate, and writes each connection's
bytes, one file per direction: OUT/NNN.client (kubectl -> server) and OUT/NNN.server (server -> kubectl).

  python3 record_kubectl_stream.py ADMIN_KUBECONFIG PORT OUT_DIR

How tests/fixtures/streams/ was made: see tests/fixtures/streams/README.md.
"""
import base64, os, socket, ssl, sys, tempfile, threading, yaml

conf = yaml.safe_load(open(sys.argv[1]))
port, out = int(sys.argv[2]), sys.argv[3]
os.makedirs(out, exist_ok=True)
cluster, user = conf["clusters"][0]["cluster"], conf["users"][0]["user"]
host, upstream_port = cluster["server"][len("https://"):].rsplit(":", 1)
tmp = tempfile.mkdtemp()
def write(name, b64):
    path = os.path.join(tmp, name)
    open(path, "wb").write(base64.b64decode(b64))
    return path
context = ssl.create_default_context(cafile=write("ca", cluster["certificate-authority-data"]))
context.load_cert_chain(write("crt", user["client-certificate-data"]), write("key", user["client-key-data"]))
context.check_hostname = False

counter = [0]
def pump(src, dst, record):
    with open(record, "wb") as f:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            f.write(data)
            f.flush()
            dst.sendall(data)
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass

listener = socket.create_server(("127.0.0.1", port))
while True:
    client, _ = listener.accept()
    counter[0] += 1
    base = os.path.join(out, "%03d" % counter[0])
    server = context.wrap_socket(socket.create_connection((host, int(upstream_port))), server_hostname=host)
    threading.Thread(target=pump, args=(client, server, base + ".client"), daemon=True).start()
    threading.Thread(target=pump, args=(server, client, base + ".server"), daemon=True).start()
