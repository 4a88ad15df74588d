// @skillgate/identity — workload tokens, owners and locks: who a skill is and whether it may act now.
export {};
