/** What a call test page receives from one remote participant: their audio and camera streams' inbound stats. */
import type { Page } from 'playwright-core';
import type {} from './call-page';
import type { CallPageInbound } from './call-page-api';

export async function inboundFrom(p: Page, peerId: string): Promise<{ audio?: CallPageInbound; video?: CallPageInbound }> {
  const all = await p.evaluate(() => window.hoichanCall.inbound());
  return { audio: all.find((s) => s.peerId === peerId && s.kind === 'audio'), video: all.find((s) => s.peerId === peerId && s.source === 'camera') };
}
