// What a device reports of itself for round planning (strategy/plan/): what
// it measured on its own hardware and link, and what it declares (its power
// model, its memory). Sent with each join; the coordinator keeps the latest
// per device. Every number is bounded, so a device that lies cannot make the
// planner's arithmetic overflow or a console render absurdities.
import { z } from 'zod';

const CutId = z.string().regex(/^[A-Za-z0-9._-]{1,32}$/);

export const PowerModel = z
  .object({
    /** Watts while computing the head. */
    computeW: z.number().positive().max(1000),
    /** Watts while transmitting. */
    radioW: z.number().positive().max(100),
    /** Battery charge left, 0–1, if it has one. */
    batteryLevel: z.number().min(0).max(1).optional(),
  })
  .strict();
export type PowerModel = z.infer<typeof PowerModel>;

/**
 * A device's radio, as its platform knows it: the channel's power gain to
 * the cell (path loss included, linear) and its transmit power limit. With
 * it, and a cell bandwidth in the planning config, the planner chooses the
 * device's transmit power as well as its share (strategy/plan/radio.ts).
 */
export const RadioReport = z
  .object({
    channelGain: z.number().positive().max(1),
    maxPowerW: z.number().positive().max(10),
  })
  .strict();
export type RadioReport = z.infer<typeof RadioReport>;

export const DeviceProfileReport = z
  .object({
    /** Head forward and backward per training sample (ms), per cut the device has trained at. */
    headMsPerSample: z
      .record(CutId, z.number().positive().max(60_000))
      .refine((r) => Object.keys(r).length <= 16, 'at most 16 cuts'),
    /**
     * The head's peak memory per cut (bytes): the runtime's heap after the head's steps there, which
     * only grows, so an upper bound. Cuts over `memoryLimitBytes` are not planned for the device.
     */
    headPeakBytes: z
      .record(
        CutId,
        z
          .number()
          .int()
          .positive()
          .max(2 ** 50),
      )
      .refine((r) => Object.keys(r).length <= 16, 'at most 16 cuts')
      .optional(),
    /** Its link, from its own step exchanges (bits per second), and the round-trip time of a small request. */
    uplinkBps: z.number().positive().max(1e12).optional(),
    downlinkBps: z.number().positive().max(1e12).optional(),
    rttMs: z.number().nonnegative().max(600_000).optional(),
    power: PowerModel.optional(),
    radio: RadioReport.optional(),
    /** Training examples the device holds: with the ticket's epochs and batch, its work in a round. */
    samples: z.number().int().positive().max(1e9).optional(),
    memoryLimitBytes: z
      .number()
      .int()
      .positive()
      .max(2 ** 50)
      .optional(),
  })
  .strict();
export type DeviceProfileReport = z.infer<typeof DeviceProfileReport>;

/** POST …/join: an optional body. */
export const JoinBody = z.object({ profile: DeviceProfileReport.optional() }).strict();
export type JoinBody = z.infer<typeof JoinBody>;
