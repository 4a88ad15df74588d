// @skillgate/masking — detectors and actions for personal data and secrets, JSON- and SSE-aware masking. Pure: no I/O.
export {};
