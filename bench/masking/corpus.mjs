// The labeled corpus: carriers people paste into Claude (chat prose, tool-call JSON, .env files,
// stack traces, CSV rows, markdown tables, multi-turn conversations) with sensitive values and hard
// negatives in slots. Split dev/test by template (even-numbered templates are dev, odd are test)
// and by seed (dev seeds 1.., test seeds 100001..): tune on dev only, report test.
import { SENSITIVE, NEGATIVES, fakers } from './values.mjs';

// {TYPE} inserts a value (the span is labeled TYPE), {N} a hard negative, {TYPE|json} JSON-escapes it.
// PERSON_HELDOUT / LOCATION_HELDOUT are labeled PERSON / LOCATION (group "heldout");
// SECRET_GENERIC is a random password, labeled SECRET, only ever after a keyword.
export const CARRIERS = {
  prose: [
    'Hi team, {PERSON} here. Please email me at {EMAIL_ADDRESS} or call {PHONE_NUMBER} about ticket {N}.',
    'Quick update from {PERSON}: you can reach me on {PHONE_NUMBER} or {EMAIL_ADDRESS} until {N}.',
    'The customer {PERSON} paid with card {CREDIT_CARD} on {N}; refund to IBAN {IBAN_CODE} please.',
    'Refund request: card number {CREDIT_CARD}, holder {PERSON}, IBAN {IBAN_CODE}, reference {N}.',
    'Patient {PERSON}, born on {DATE_OF_BIRTH}, SSN {US_SSN}, lives in {LOCATION}.',
    'Record for {PERSON} (date of birth: {DATE_OF_BIRTH}, social security number {US_SSN}) from {LOCATION}.',
    'Deploy {N} failed on host {IP_ADDRESS}; the NIC {MAC_ADDRESS} dropped packets after {N}.',
    'Traffic from {IP_ADDRESS} spiked at {N}; interface {MAC_ADDRESS} is flapping, see {N}.',
    'Use key {SECRET} for the staging API and rotate it after {N}.',
    'Someone committed {SECRET} in {N}, please revoke it today.',
    'Wire the funds: routing number {ABA_ROUTING_NUMBER}, account number {US_BANK_NUMBER}. Reference {N}.',
    'For payroll use ABA {ABA_ROUTING_NUMBER} and bank account: {US_BANK_NUMBER} (ref {N}).',
    'Send the refund to wallet {CRYPTO} and the receipt to {EMAIL_ADDRESS}.',
    'Crypto payout: send to {CRYPTO}; confirm with {EMAIL_ADDRESS} after {N}.',
    'Thanks, {PERSON_HELDOUT} from {LOCATION_HELDOUT} asked about {N}.',
    'Escalated by {PERSON_HELDOUT} ({LOCATION_HELDOUT} office), see {N}.',
    'ITIN {US_ITIN} belongs to {PERSON}, who moved to {LOCATION}.',
    'Taxpayer ITIN {US_ITIN} was filed for {PERSON} in {LOCATION}.',
    'Nothing sensitive here: build {N} took {N} and commit {N} is tagged {N}.',
    'All clear: {N}, {N} and {N} look fine after the restart.',
  ],
  json: [
    '{"name":"crm_lookup","input":{"customer":"{PERSON}","email":"{EMAIL_ADDRESS}","phone":"{PHONE_NUMBER}","note":"ticket {N}"}}',
    '{"type":"tool_use","id":"toolu_{N}","name":"update_contact","input":{"full_name":"{PERSON}","mail":"{EMAIL_ADDRESS}","mobile":"{PHONE_NUMBER}"}}',
    '{"tool":"charge","args":{"card":"{CREDIT_CARD}","iban":"{IBAN_CODE}","order":"{N}","ip":"{IP_ADDRESS}"}}',
    '{"name":"payment","input":{"card_number":"{CREDIT_CARD}","client_ip":"{IP_ADDRESS}","request_id":"{N}","iban":"{IBAN_CODE}"}}',
    '{"config":{"api_key":"{SECRET|json}","password":"{SECRET_GENERIC|json}","build":"{N}"}}',
    '{"env":{"token":"{SECRET|json}","db_password":"{SECRET_GENERIC|json}","version":"{N}"}}',
  ],
  env: [
    'ANTHROPIC_API_KEY={SECRET}\nDB_PASSWORD={SECRET_GENERIC}\nADMIN_EMAIL={EMAIL_ADDRESS}\nBUILD_ID={N}\n',
    'export SERVICE_TOKEN={SECRET}\nexport SMTP_PASSWORD="{SECRET_GENERIC}"\nexport OWNER={EMAIL_ADDRESS}\nexport RELEASE={N}\n',
    'API_KEY={SECRET}\nREDIS_PASSWORD={SECRET_GENERIC}\nSUPPORT_PHONE={PHONE_NUMBER}\nCOMMIT={N}\n',
    'secret_key: {SECRET}\npassword: {SECRET_GENERIC}\ncontact: {EMAIL_ADDRESS}\nimage: app:{N}\n',
  ],
  trace: [
    'Error: failed to charge card {CREDIT_CARD} for {EMAIL_ADDRESS}\n    at charge (/srv/app/billing.js:120:17)\n    at process ({N})\n',
    'TypeError: cannot read user {EMAIL_ADDRESS} from {IP_ADDRESS}\n    at load (/app/users.ts:88:9)\n    request {N}\n',
    'panic: connection from {IP_ADDRESS} refused (user={EMAIL_ADDRESS})\ngoroutine 1 [running]:\nmain.handle({N})\n',
    'Traceback (most recent call last):\n  File "pay.py", line 42, in charge\nValueError: bad card {CREDIT_CARD} for {PERSON} ({N})\n',
  ],
  csv: [
    'name,email,phone,city\n{PERSON},{EMAIL_ADDRESS},{PHONE_NUMBER},{LOCATION}\n{PERSON},{EMAIL_ADDRESS},{PHONE_NUMBER},{LOCATION}\n',
    'id,customer,mail,ip\n{N},{PERSON},{EMAIL_ADDRESS},{IP_ADDRESS}\n{N},{PERSON},{EMAIL_ADDRESS},{IP_ADDRESS}\n',
    'order,card,amount\n{N},{CREDIT_CARD},{N}\n{N},{CREDIT_CARD},{N}\n',
    'ts,src,mac\n{N},{IP_ADDRESS},{MAC_ADDRESS}\n{N},{IP_ADDRESS},{MAC_ADDRESS}\n',
  ],
  table: [
    '| Name | Email | Phone |\n|---|---|---|\n| {PERSON} | {EMAIL_ADDRESS} | {PHONE_NUMBER} |\n| {PERSON} | {EMAIL_ADDRESS} | {PHONE_NUMBER} |\n',
    '| Owner | Contact | Build |\n|---|---|---|\n| {PERSON} | {EMAIL_ADDRESS} | {N} |\n| {PERSON} | {PHONE_NUMBER} | {N} |\n',
    '| Host | MAC | Note |\n| --- | --- | --- |\n| {IP_ADDRESS} | {MAC_ADDRESS} | {N} |\n',
    '| Key | Value |\n| --- | --- |\n| card | {CREDIT_CARD} |\n| iban | {IBAN_CODE} |\n| trace | {N} |\n',
  ],
  conversation: [
    'User: hi, I am {PERSON} and my account email is {EMAIL_ADDRESS}\nAssistant: Thanks! What seems to be the problem with {N}?\nUser: my card {CREDIT_CARD} was charged twice, call me at {PHONE_NUMBER}\n',
    'User: the server {IP_ADDRESS} leaks {SECRET}\nAssistant: I will rotate it. Which deploy ({N})?\nUser: the one {PERSON} ran from {LOCATION}\n',
    'User: my name is {PERSON}, DOB: {DATE_OF_BIRTH}\nAssistant: Got it. Anything else for ticket {N}?\nUser: my SSN: {US_SSN} and I moved to {LOCATION}\n',
    'User: please pay {PERSON} via IBAN {IBAN_CODE}\nAssistant: Sure, reference {N}?\nUser: yes, and send the invoice to {EMAIL_ADDRESS}\n',
  ],
};

const LABEL = { PERSON_HELDOUT: ['PERSON', 'heldout'], LOCATION_HELDOUT: ['LOCATION', 'heldout'], SECRET_GENERIC: ['SECRET', 'generic'] };

function generic(F) {
  const f = F.en;
  const len = f.number.int({ min: 10, max: 20 });
  let s = '';
  const a = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%^*';
  for (let i = 0; i < len; i++) s += a[f.number.int({ min: 0, max: a.length - 1 })];
  return s;
}

/** One labeled document from a template. */
export function build(template, seed) {
  const F = fakers(seed);
  let text = '';
  const spans = [];
  const negatives = [];
  const re = /\{([A-Z_]+)(\|json)?\}/g;
  let last = 0;
  let m;
  while ((m = re.exec(template)) !== null) {
    text += template.slice(last, m.index);
    last = m.index + m[0].length;
    const key = m[1];
    let value;
    if (key === 'N') value = NEGATIVES[F.en.number.int({ min: 0, max: NEGATIVES.length - 1 })](F);
    else if (key === 'SECRET_GENERIC') value = generic(F);
    else value = SENSITIVE[key](F);
    if (m[2]) value = JSON.stringify(value).slice(1, -1);
    const start = text.length;
    text += value;
    if (key === 'N') negatives.push({ start, end: text.length });
    else {
      const [type, group] = LABEL[key] ?? [key, 'main'];
      spans.push({ type, group, start, end: text.length });
    }
  }
  text += template.slice(last);
  return { text, spans, negatives };
}

/** The corpus for a split: every template of the split, `perTemplate` seeds each. */
export function corpus(split, perTemplate) {
  const docs = [];
  const seed0 = split === 'dev' ? 1 : 100001;
  for (const [carrier, templates] of Object.entries(CARRIERS)) {
    templates.forEach((t, i) => {
      if ((i % 2 === 0) !== (split === 'dev')) return;
      for (let k = 0; k < perTemplate; k++) docs.push({ carrier, template: i, ...build(t, seed0 + i * 1000 + k) });
    });
  }
  return docs;
}
