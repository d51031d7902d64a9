// `inspect`: what a model is made of and where it can be cut.

import Table from 'cli-table3';
import type { Command } from 'commander';
import { parameterCount } from '../../graph/params.js';
import { graphOf, loadModel, opsetOf, realInputs, shapeOf } from '../../onnx/model.js';
import { DataType, type ModelProto, type ValueInfoProto } from '../../onnx/proto.js';
import { toNumber } from '../../onnx/tensor.js';
import { type Block, locateBlocks } from '../../split/blocks.js';

export interface ModelSummary {
  irVersion: number;
  opset: number;
  producer: string;
  inputs: Array<{ name: string; dtype: string; shape: Array<number | string | null> }>;
  outputs: Array<{ name: string; dtype: string; shape: Array<number | string | null> }>;
  nodes: number;
  ops: Record<string, number>;
  parameters: number;
  blocks: Array<{ index: number; scope: string; input: string; output: string; nodes: number }>;
  /** Set when block detection failed; cuts by tensor name still work. */
  blockError?: string;
  cuts: string[];
}

const dtypeName = (v: ValueInfoProto) => DataType[v.type?.tensorType?.elemType ?? 0] ?? 'UNDEFINED';
const io = (v: ValueInfoProto) => ({ name: v.name ?? '', dtype: dtypeName(v), shape: shapeOf(v) });

export function summarize(model: ModelProto): ModelSummary {
  const graph = graphOf(model);
  const ops: Record<string, number> = {};
  for (const n of graph.node ?? []) ops[n.opType ?? '?'] = (ops[n.opType ?? '?'] ?? 0) + 1;
  let blocks: Block[] = [];
  let blockError: string | undefined;
  try {
    blocks = locateBlocks(graph);
  } catch (e) {
    blockError = (e as Error).message;
  }
  const cuts = blocks.length > 0 ? ['embed', ...blocks.map((b) => `block${b.index}`)] : [];
  return {
    irVersion: toNumber(model.irVersion ?? 0),
    opset: opsetOf(model),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    inputs: realInputs(graph).map(io),
    outputs: (graph.output ?? []).map(io),
    nodes: graph.node?.length ?? 0,
    ops,
    parameters: parameterCount(graph),
    blocks: blocks.map((b) => ({
      index: b.index,
      scope: b.scope,
      input: b.input,
      output: b.output,
      nodes: b.nodes.length,
    })),
    blockError,
    cuts,
  };
}

// No ANSI colours: the output is often piped or captured in logs.
const PLAIN = { head: [], border: [] };

const fmtShape = (s: Array<number | string | null>) => `[${s.map((d) => d ?? '?').join(', ')}]`;

function print(file: string, s: ModelSummary): void {
  console.log(`${file}: IR ${s.irVersion}, opset ${s.opset}${s.producer ? `, from ${s.producer}` : ''}`);
  for (const i of s.inputs) console.log(`  input  ${i.name} ${i.dtype}${fmtShape(i.shape)}`);
  for (const o of s.outputs) console.log(`  output ${o.name} ${o.dtype}${fmtShape(o.shape)}`);
  console.log(`  ${s.nodes} nodes, ${s.parameters} parameters`);
  const ops = new Table({ head: ['op', 'count'], style: PLAIN });
  for (const [op, n] of Object.entries(s.ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
    ops.push([op, n]);
  }
  console.log(ops.toString());
  if (s.blocks.length > 0) {
    const blocks = new Table({ head: ['block', 'scope', 'input', 'output', 'nodes'], style: PLAIN });
    for (const b of s.blocks) blocks.push([b.index, b.scope, b.input, b.output, b.nodes]);
    console.log(blocks.toString());
  } else {
    console.log(`no encoder blocks recognised${s.blockError ? `: ${s.blockError}` : ''}`);
  }
  const cuts = [...s.cuts, 'tensor:<name>'];
  console.log(`cuts: ${cuts.join(', ')}`);
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('show opset, inputs/outputs, op histogram, parameters, encoder blocks and cut ids')
    .argument('<model>', '.onnx file')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const summary = summarize(await loadModel(file));
      if (opts.json) console.log(JSON.stringify(summary, null, 2));
      else print(file, summary);
    });
}
