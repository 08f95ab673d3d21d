// The official OpenAI client library (npm `openai`, v4) against a running `muse serve`, unchanged: chat,
// streaming with usage, n > 1, logprobs, an image part, model listing, and its error classes on bad requests.
// Usage: node openai_client.mjs BASE_URL API_KEY IMAGE_PNG   (run by openai_client_test.sh)
import OpenAI from 'openai';
import { readFileSync } from 'node:fs';

const [baseURL, apiKey, imagePath] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
let failures = 0;
const check = (ok, what, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${ok || !detail ? '' : ': ' + detail}`);
  if (!ok) failures++;
};
const ask = (content) => [{ role: 'user', content }];

const models = await client.models.list();
check(models.data.length === 1 && models.data[0].id === 'default', 'models.list', JSON.stringify(models.data));

const plain = await client.chat.completions.create({ model: 'default', messages: ask('47+85'), max_tokens: 64 });
check(plain.object === 'chat.completion' && plain.choices[0].message.content === '132', 'chat: 47+85 -> 132',
  JSON.stringify(plain.choices[0]));
check(plain.choices[0].finish_reason === 'stop', 'chat: finish_reason stop');
check(typeof plain.choices[0].message.reasoning_content === 'string' &&
  plain.choices[0].message.reasoning_content.includes('47+85'), 'chat: the thinking as reasoning_content');
check(plain.usage.prompt_tokens > 0 && plain.usage.completion_tokens > 0 &&
  plain.usage.completion_tokens_details.reasoning_tokens > 0, 'chat: usage with reasoning tokens',
  JSON.stringify(plain.usage));

const stream = await client.chat.completions.create({
  model: 'default', messages: ask('1234+56'), max_tokens: 96, stream: true, stream_options: { include_usage: true },
});
let content = '', reasoning = '', usage = null, finish = null;
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  for (const choice of chunk.choices) {
    content += choice.delta.content ?? '';
    reasoning += choice.delta.reasoning_content ?? '';
    finish = choice.finish_reason ?? finish;
  }
}
check(content === '1290', 'stream: 1234+56 -> 1290', content);
check(reasoning.startsWith('1234+0056'), 'stream: reasoning_content deltas', reasoning.slice(0, 40));
check(finish === 'stop' && usage && usage.total_tokens === usage.prompt_tokens + usage.completion_tokens,
  'stream: finish and the usage chunk', JSON.stringify(usage));

const many = await client.chat.completions.create({
  model: 'default', messages: ask('23*41'), max_tokens: 96, n: 3, temperature: 0.8, seed: 4,
});
check(many.choices.length === 3 && many.choices.map((c) => c.index).join() === '0,1,2', 'n = 3 choices');

const probs = await client.chat.completions.create({
  model: 'default', messages: ask('47+85'), max_tokens: 64, logprobs: true, top_logprobs: 2,
});
const lp = probs.choices[0].logprobs?.content ?? [];
check(lp.length > 0 && lp.every((t) => typeof t.token === 'string' && t.top_logprobs.length === 2),
  'logprobs with top_logprobs', JSON.stringify(lp.slice(0, 2)));

// Built-in tools run server-side: the client sees the answer and no tool_calls it would try to run itself; a
// streamed run accumulates the same, with the calls in Muse's extension field.
const calc = await client.chat.completions.create({ model: 'default', messages: ask('What is 5821*3407?'), max_tokens: 96 });
check(calc.choices[0].message.content === '19832147' && !calc.choices[0].message.tool_calls &&
      calc.choices[0].finish_reason === 'stop' && calc.choices[0].message.muse_tool_calls?.[0]?.function?.name === 'calculator',
      'built-in calculator: 5821*3407 -> 19832147, no client tool_calls', JSON.stringify(calc.choices[0].message));
const calcStream = await client.chat.completions.create({
  model: 'default', messages: ask('What is 5821*3407?'), max_tokens: 96, stream: true,
});
let calcContent = '', sawServerCall = false, sawClientCall = false;
for await (const chunk of calcStream) {
  const d = chunk.choices[0]?.delta ?? {};
  calcContent += d.content ?? '';
  sawServerCall ||= Array.isArray(d.muse_tool_calls) && d.muse_tool_calls[0]?.function?.name === 'calculator';
  sawClientCall ||= Array.isArray(d.tool_calls);
}
check(calcContent === '19832147' && sawServerCall && !sawClientCall, 'stream: the calculator call as muse_tool_calls',
      calcContent);

const png = readFileSync(imagePath).toString('base64');
const image = await client.chat.completions.create({
  model: 'default', max_tokens: 64,
  messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
    { type: 'text', text: 'Which bar is largest?' }] }],
});
check(/^[A-G]$/.test(image.choices[0].message.content), 'an image part: a bar letter back',
  image.choices[0].message.content);

// Errors arrive as the library's own classes, with the server's message, param and code.
const refused = async (what, Class, status, request, param) => {
  try {
    await request();
    check(false, what, 'accepted');
  } catch (e) {
    check(e instanceof Class && e.status === status && (param === undefined || e.param === param),
      `${what}: ${Class.name} ${status}`, `${e.constructor.name} ${e.status} ${e.param} ${e.message}`);
  }
};
const bad = new OpenAI({ baseURL, apiKey: 'wrong', maxRetries: 0 });
await refused('wrong key', OpenAI.AuthenticationError, 401,
  () => bad.chat.completions.create({ model: 'default', messages: ask('1+1') }));
await refused('unknown model', OpenAI.NotFoundError, 404,
  () => client.chat.completions.create({ model: 'gpt-4o', messages: ask('1+1') }));
await refused('temperature 5', OpenAI.BadRequestError, 400,
  () => client.chat.completions.create({ model: 'default', messages: ask('1+1'), temperature: 5 }), 'temperature');
await refused('remote image URL', OpenAI.BadRequestError, 400,
  () => client.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: [
    { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] }));
await refused('tools (not supported yet)', OpenAI.BadRequestError, 400,
  () => client.chat.completions.create({ model: 'default', messages: ask('1+1'),
    tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] }), 'tools');

console.log(failures === 0 ? 'all passed' : `${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
