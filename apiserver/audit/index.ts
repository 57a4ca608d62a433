// The audit log as the API server sets it up: the policy file (the default one written on first start) and
// the log file, both under $PHOTON_HOME/audit unless flags name others.
import path from 'node:path';
import { ConfigurationError } from '../../lib/cli.ts';
import type { Logger } from '../../lib/logging.ts';
import { ensureDefaultPolicy, loadPolicyFile } from './default-policy.ts';
import { AuditLog, type AuditErrorReason } from './log-file.ts';

export interface AuditOptions {
  home: string;
  /** --audit-log-path (default $PHOTON_HOME/audit/audit.log). */
  logPath?: string;
  /** --audit-policy-file (default $PHOTON_HOME/audit/policy.yaml, written when absent). */
  policyFile?: string;
  log: Logger;
  onWritten?: () => void;
  onError?: (reason: AuditErrorReason) => void;
}

export function defaultAuditPaths(home: string): { logPath: string; policyFile: string } {
  return { logPath: path.join(home, 'audit', 'audit.log'), policyFile: path.join(home, 'audit', 'policy.yaml') };
}

/** Loads the policy and opens the log; a missing or broken policy file, or a log that cannot be opened, stops start-up. */
export function openAuditLog(options: AuditOptions): AuditLog {
  const defaults = defaultAuditPaths(options.home);
  // Only the default location gets the default policy: a file named by flag must be the operator's.
  if (options.policyFile === undefined) ensureDefaultPolicy(defaults.policyFile);
  const policy = loadPolicyFile(options.policyFile ?? defaults.policyFile);
  const file = path.resolve(options.logPath ?? defaults.logPath);
  try {
    return new AuditLog({ file, policy, log: options.log, onWritten: options.onWritten, onError: options.onError });
  } catch (error) {
    throw new ConfigurationError(`cannot open the audit log ${file}: ${(error as Error).message}`);
  }
}
