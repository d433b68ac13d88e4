"""SynthCoder corpus construction: tree-sitter FIM spans, FIM layouts, BM25 and call-graph cross-file context,
anti-repetition and deduplication. Depends on the base modules (``errors``, ``jsonl``, the FIM formats of
``codealign.fim``) and on ``domains`` for each registered language's tree-sitter syntax only — never on
``sandbox``, ``execution`` or another stage."""
