import type { Section } from './types';
export const loss: Section = async () => { throw new Error('todo'); };
