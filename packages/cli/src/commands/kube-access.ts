// The Kubernetes API for the commands that use it (lock, unlock, owners, approvals), from
// --kubeconfig or the usual places, failing with one line that says what is missing instead of a
// file error or a client's complaint about a cluster that was never configured.
import { KubeConfig } from '@kubernetes/client-node';
import { kubeClientsFor, type KubeClients } from '@skillgate/controller';
import { CliError } from '../command.js';

/** The kubeconfig as the client reads it, checked to name a cluster. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  const where = path ?? process.env.KUBECONFIG ?? '~/.kube/config';
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The YAML parser points at the place over several lines (a code frame): its first line says what.
    const why = code === 'ENOENT' ? 'no such file' : (err as Error).message.split('\n')[0]!.trim().replace(/:$/, '');
    throw new CliError(`cannot load the kubeconfig ${where}: ${why}`);
  }
  // With nothing to read, the client falls back to http://localhost:8080 and later fails with a
  // complaint about TLS settings that never mentions a kubeconfig.
  const cluster = kc.getCurrentCluster();
  if (!cluster || (!path && !process.env.KUBECONFIG && cluster.server === 'http://localhost:8080')) {
    throw new CliError(`no Kubernetes cluster to talk to: ${path ? `${path} names no current cluster` : 'no kubeconfig found (set KUBECONFIG or pass --kubeconfig F), and not running inside a cluster'}`);
  }
  return kc;
}

/** The API clients of the kubeconfig loadKubeConfig checked. */
export function cliKubeClients(path: string | undefined): KubeClients {
  return kubeClientsFor(loadKubeConfig(path));
}
