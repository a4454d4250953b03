import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/** 1.x `service_not_found` (code 3401, `data_not_found`): nothing is registered under the name. */
export class ServiceNotFoundError extends FoundationError {
  readonly serviceName: string;
  readonly namespace: string;

  constructor(serviceName: string, namespace: string) {
    super({
      type: 'service_not_found',
      code: REGISTRY_ERROR_CODES.serviceNotFound,
      severity: 'low',
      message: `no service registered as "${serviceName}" in namespace "${namespace}"`,
      context: { name: serviceName, namespace },
    });
    this.serviceName = serviceName;
    this.namespace = namespace;
  }
}
