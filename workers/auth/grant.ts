// Issuing device tokens from the Worker's configuration: the enrolment and
// refresh routes' one way to sign. The configuration is read before the
// caller changes anything, so a misconfigured Worker fails before, say, an
// enrolment has voided the device's previous token.
import type { DeviceToken } from '../../protocol/federation.js';
import { keyringOf, type TokenSettings, tokenLifetimeMs } from './keys.js';
import { issueDeviceToken } from './tokens.js';

export type DeviceTokenIssuer = (device: {
  federationId: string;
  deviceId: string;
  generation: number;
}) => Promise<DeviceToken>;

export function deviceTokenIssuer(settings: TokenSettings): DeviceTokenIssuer {
  const ring = keyringOf(settings);
  const lifetimeMs = tokenLifetimeMs(settings);
  return async (device) => {
    const { token, claims } = await issueDeviceToken(ring, device, Date.now(), lifetimeMs);
    return { ...device, token, expiresAt: claims.expiresAt };
  };
}
