"""Our retrieval inside LlamaIndex's own query engine, with its own MockLLM (which writes
back the prompt it was given, so the answer shows what the engine read)."""

from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine

from rag.filters import Filters
from rag.integrations.llama_index import RagNewsRetriever
from rag.pipeline import Pipeline

QUESTION = "Which article of the UN Charter does the defence clause invoke?"


def test_a_retriever_query_engine_reads_our_passages_with_their_offsets(seeded: Pipeline) -> None:
    engine = RetrieverQueryEngine.from_args(RagNewsRetriever(seeded, top_k=3), llm=MockLLM())
    response = engine.query(QUESTION)

    ours = seeded.search(QUESTION, top_k=3)
    nodes = response.source_nodes
    assert [(n.metadata["source"], n.metadata["start"]) for n in nodes] == [
        (h.source, h.start) for h in ours
    ]
    assert [n.score for n in nodes] == [h.score for h in ours]
    for node in nodes:
        text = seeded.source_text(node.metadata["source"])
        assert text[node.node.start_char_idx : node.node.end_char_idx] == node.node.text
        assert node.metadata["title"] and node.node.ref_doc_id == node.metadata["source"]
    assert any("Article 51" in n.node.text for n in nodes)
    assert nodes[0].node.text in str(response)  # the engine gave the LLM our passage


def test_filters_and_the_reader_pass_through(seeded: Pipeline) -> None:
    only = Filters(source=["001_1346c328f81362a0.txt"])
    nodes = RagNewsRetriever(seeded, top_k=2, filters=only, rerank=True).retrieve("treaty")
    hits = seeded.search("treaty", top_k=2, filters=only, rerank=True)
    assert [(n.node.text, n.score) for n in nodes] == [(h.text, h.reader_score) for h in hits]
    assert {n.metadata["source"] for n in nodes} == {"001_1346c328f81362a0.txt"}
