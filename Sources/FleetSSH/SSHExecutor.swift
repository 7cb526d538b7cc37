import CLibSSH2
import FleetModel
// libssh2 transport: owning classes, event loops, known_hosts, auth.
