// @skillgate/policy — SkillPolicy semantics: selecting and combining policies, evaluating a request to a decision. Pure.
export {};
