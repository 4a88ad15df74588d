// @skillgate/recorder — the consumer-group worker that moves session events to a durable archive and search index.
export {};
