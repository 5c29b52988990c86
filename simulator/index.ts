export * from './fault-injector';
export * from './ids';
export * from './livekit-model';
export * from './livekit-simulator';
export * from './naive-receiver';
export * from './twirp';
export * from './webhook-sender';
