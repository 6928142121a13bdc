# xinf_tokenizer: the GGUF tokenizers (gpt2 byte-level BPE, llama
# SentencePiece), built from metadata arrays; include()d by the models'
# CMakeLists.txt. Tests: tests/tokenizer.
include_guard(GLOBAL)
add_library(xinf_tokenizer STATIC
  ${CMAKE_CURRENT_LIST_DIR}/xinf_tokenizer.c
  ${CMAKE_CURRENT_LIST_DIR}/xinf_tokenizer_bpe.c
  ${CMAKE_CURRENT_LIST_DIR}/xinf_tokenizer_spm.c
  ${CMAKE_CURRENT_LIST_DIR}/xinf_tokenizer_user.c
  ${CMAKE_CURRENT_LIST_DIR}/xinf_tokenizer_pre.c
  ${CMAKE_CURRENT_LIST_DIR}/xinf_tokenizer_deepseek.c
  ${CMAKE_CURRENT_LIST_DIR}/xinf_tokenizer_unicode.c
  ${CMAKE_CURRENT_LIST_DIR}/xinf_tokenizer_nfc.c
  ${CMAKE_CURRENT_LIST_DIR}/xinf_tokenizer_nfc_data.c)
target_include_directories(xinf_tokenizer PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(xinf_tokenizer PUBLIC xinf)
