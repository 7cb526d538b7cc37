import ArgumentParser
import Foundation
import FleetModel
import FleetRollout

/// How fleet asks Kubernetes, shared by scan, clean and sweep. By default it asks, through
/// the operator's `kubectl` (its kubeconfig, `KUBECONFIG`, contexts and exec plugins), and
/// `clean` acts on nothing when the answer is missing; `--no-kubernetes` goes without.
struct KubernetesOptions: ParsableArguments {
    @Flag(inversion: .prefixedNo,
          help: "Ask Kubernetes (default). --no-kubernetes: clean judges from the nodes alone (kubelet's records and the disks' identities still count). (default: --kubernetes)")
    var kubernetes: Bool?

    /// Nil until the command line or a config file says: asked by default.
    var noKubernetes: Bool { kubernetes == false }

    @Option(help: ArgumentHelp("kubeconfig for kubectl (default: kubectl's own: $KUBECONFIG, ~/.kube/config, in-cluster).", valueName: "file"))
    var kubeconfig: Sourced<String>?

    @Option(help: ArgumentHelp("kubeconfig context to use (default: the current context).", valueName: "name"))
    var context: Sourced<String>?

    @Option(help: ArgumentHelp("The kubectl to run.", valueName: "path"))
    var kubectl: Sourced<String> = .default("kubectl")

    @Option(help: ArgumentHelp("Extra WWID rules for other CSI drivers, a JSON array (docs/kubernetes.md); tried before the built-in ones.", valueName: "file"))
    var kubernetesRules: Sourced<String>?

    @Option(help: ArgumentHelp("Inventory label naming a node's Kubernetes Node when the names differ (else: same name, then status.addresses).", valueName: "label"))
    var kubernetesNodeLabel: Sourced<String> = .default("k8s-node")

    @Option(help: ArgumentHelp("kubectl's --request-timeout.", valueName: "duration"))
    var kubernetesTimeout: Sourced<DurationArgument> = .default(DurationArgument(argument: "30s")!)

    func validate() throws {
        if noKubernetes, kubeconfig != nil || context != nil || kubernetesRules != nil {
            throw ValidationError("--no-kubernetes cannot be combined with --kubeconfig, --context or --kubernetes-rules")
        }
        guard kubernetesTimeout.value.duration > .zero else { throw ValidationError("--kubernetes-timeout must be positive") }
        // A rules file that cannot be read is a usage error here, so no caller can silently
        // run without Kubernetes because of it.
        _ = try settings()
    }

    /// nil with --no-kubernetes. Throws a message naming the rules file when it is unreadable.
    func settings() throws -> KubernetesSettings? {
        guard !noKubernetes else { return nil }
        var rules = WWIDRule.builtIn
        if let path = kubernetesRules?.value {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("--kubernetes-rules: cannot read \(path)")
            }
            do { rules = try WWIDRule.decodeList(data) + rules } catch {
                throw ValidationError("--kubernetes-rules \(path): not a JSON array of rules: \(error)")
            }
        }
        return KubernetesSettings(kubectl: kubectl.value, kubeconfig: kubeconfig?.value, context: context?.value,
                                  requestTimeout: kubernetesTimeout.value.duration, nodeLabel: kubernetesNodeLabel.value,
                                  rules: rules)
    }
}

extension KubernetesOptions {
    /// The `kubernetes:` keys of a config file.
    static var configBindings: [ConfigBinding<Self>] {
        [.flag("kubernetes.enabled", \.kubernetes), .option("kubernetes.kubeconfig", \.kubeconfig),
         .option("kubernetes.context", \.context), .option("kubernetes.kubectl", \.kubectl),
         .option("kubernetes.rules", \.kubernetesRules), .option("kubernetes.node_label", \.kubernetesNodeLabel),
         .option("kubernetes.timeout", \.kubernetesTimeout)]
    }
}
