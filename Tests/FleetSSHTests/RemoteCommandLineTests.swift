import Testing
import FleetSSH

@Suite struct RemoteCommandLineTests {
    @Test func wrapsInTimeoutAndQuotes() {
        let line = SSHExecutor.remoteCommandLine("echo 'a'", timeout: .seconds(10), sudo: false)
        #expect(line == "timeout -s KILL 12 sh -c 'echo '\\''a'\\'''")
    }
    @Test func sudoGoesOutside() {
        let line = SSHExecutor.remoteCommandLine("id -u", timeout: .milliseconds(1500), sudo: true)
        #expect(line == "sudo -n timeout -s KILL 4 sh -c 'id -u'")
    }
}
