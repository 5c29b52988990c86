import type { Section } from './types';
export const cost: Section = async () => { throw new Error('todo'); };
