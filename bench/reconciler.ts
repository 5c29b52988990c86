import type { Section } from './types';
export const reconciler: Section = async () => { throw new Error('todo'); };
