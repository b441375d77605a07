"""The taxonomy, fed real kernel and operator names from GPU traces."""

import pytest

from kernels_profile.taxonomy import classify, load

KERNELS = [
    # mamba-ssm
    ("void selective_scan_fwd_kernel<Selective_Scan_fwd_kernel_traits<32, 16, 1, true, true, true, true, c10::Half, float, c10::Half> >(SSMParamsBase)", "ssm_scan"),
    ("_chunk_cumsum_fwd_kernel", "ssm_scan"),
    ("_chunk_state_fwd_kernel", "ssm_scan"),
    ("_state_passing_fwd_kernel", "ssm_scan"),
    ("_bmm_chunk_fwd_kernel", "ssm_scan"),
    ("_chunk_scan_fwd_kernel", "ssm_scan"),
    ("_selective_scan_update_kernel", "ssm_scan"),
    # older Triton appends specialization suffixes
    ("_chunk_scan_fwd_kernel_0d1d2d3d4d5d6d7d8d9d10d11d12d13d14d15d16d17d18d", "ssm_scan"),
    ("_state_passing_fwd_kernel_0d1d2d3d4d5c6d7d8d9d10d11d12d13d14d15de16de", "ssm_scan"),
    # causal-conv1d
    ("void causal_conv1d_fwd_kernel<Causal_conv1d_fwd_kernel_traits<128, 4, true, c10::Half, c10::Half> >(ConvParamsBase)", "conv1d"),
    ("void causal_conv1d_channellast_fwd_kernel<Causal_conv1d_channellast_fwd_kernel_traits<128, 4, 64, true, c10::Half, c10::Half> >(ConvParamsBase)", "conv1d"),
    ("void causal_conv1d_update_kernel<Causal_conv1d_update_kernel_traits<64, 4, c10::Half, c10::Half> >(ConvParamsBase)", "conv1d"),
    # flash-linear-attention's gated delta rule (Qwen3.5's linear-attention layers; fla/ops source names)
    ("chunk_gated_delta_rule_fwd_kernel_h_blockdim64", "linear_attention"),
    ("recompute_w_u_fwd_kernel", "linear_attention"),
    ("chunk_fwd_kernel_o", "linear_attention"),
    ("chunk_scaled_dot_kkt_fwd_kernel", "linear_attention"),
    ("solve_tril_16x16_kernel", "linear_attention"),
    ("merge_16x16_to_64x64_inverse_kernel", "linear_attention"),
    ("fused_recurrent_gated_delta_rule_fwd_kernel", "linear_attention"),
    # attention
    ("void flash_fwd_kernel<Flash_fwd_kernel_traits<64, 128, 128, 4, false, false, cutlass::half_t, Flash_kernel_traits<64, 128, 128, 4, cutlass::half_t> >, false, true, false, false, true, true, false, false>(flash::Flash_fwd_params)", "attention"),
    ("void pytorch_flash::flash_fwd_kernel<pytorch_flash::Flash_fwd_kernel_traits<64, 128, 64, 4, false, false, cutlass::bfloat16_t> >(pytorch_flash::Flash_fwd_params)", "attention"),
    ("fmha_cutlassF_f16_aligned_64x64_rf_sm80(PyTorchMemEffAttention::AttentionKernel<cutlass::half_t, cutlass::arch::Sm80, true, 64, 64, 64, true, true>::Params)", "attention"),
    ("void flash_fwd_splitkv_kernel<Flash_fwd_kernel_traits<128, 64, 128, 4, false, false, cutlass::bfloat16_t> >(flash::Flash_fwd_params)", "attention"),
    # GEMMs
    ("ampere_fp16_s16816gemm_fp16_128x128_ldg8_f2f_stages_32x5_tn", "gemm"),
    ("sm80_xmma_gemm_f16f16_f16f32_f32_tn_n_tilesize128x128x32_stage4_warpsize2x2x1_tensor16x8x16_kernel", "gemm"),
    ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x256x64_warpgroupsize2x1x1_execute_segment_k_off_kernel__5x_cublas", "gemm"),
    ("void cutlass::Kernel2<cutlass_80_tensorop_f16_s16816gemm_relu_f16_256x128_32x3_nn_align8>(cutlass_80_tensorop_f16_s16816gemm_relu_f16_256x128_32x3_nn_align8::Params)", "gemm"),
    ("void gemv2T_kernel_val<int, int, __half, __half, float, float, 128, 16, 4, 4, false, false, cublasGemvParamsEx<int, cublasGemvTensorStridedBatched<__half const>, cublasGemvTensorStridedBatched<__half const>, cublasGemvTensorStridedBatched<__half>, float> >(cublasGemvParamsEx<int, cublasGemvTensorStridedBatched<__half const>, cublasGemvTensorStridedBatched<__half const>, cublasGemvTensorStridedBatched<__half>, float>, float, float)", "gemm"),
    # norms, elementwise, memory
    ("_layer_norm_fwd_1pass_kernel", "norm"),
    ("void at::native::(anonymous namespace)::vectorized_layer_norm_kernel<c10::Half, float>(int, float, c10::Half const*, c10::Half const*, c10::Half const*, float*, float*, c10::Half*)", "norm"),
    ("void at::native::vectorized_elementwise_kernel<4, at::native::silu_kernel(at::TensorIteratorBase&)::{lambda()#1}::operator()() const::{lambda()#8}::operator()() const::{lambda(c10::Half)#1}, at::detail::Array<char*, 2> >(int, at::native::silu_kernel(at::TensorIteratorBase&)::{lambda()#1}::operator()() const::{lambda()#8}::operator()() const::{lambda(c10::Half)#1}, at::detail::Array<char*, 2>)", "elementwise"),
    ("Memcpy DtoD (Device -> Device)", "memory"),
    ("void at::native::(anonymous namespace)::CatArrayBatchedCopy<at::native::(anonymous namespace)::OpaqueType<2u>, unsigned int, 4, 64, 64>(at::native::(anonymous namespace)::OpaqueType<2u>*, at::native::(anonymous namespace)::CatArrInputTensorMetadata<at::native::(anonymous namespace)::OpaqueType<2u>, unsigned int, 64, 64>, at::native::(anonymous namespace)::TensorSizeStride<unsigned int, 4u>, int, unsigned int)", "memory"),
    ("ncclDevKernel_AllReduce_Sum_f16_RING_LL(ncclDevComm*, unsigned long, ncclWork*)", "communication"),
]

OPS = [
    ("SelectiveScanFn", "ssm_scan"), ("MambaInnerFn", "ssm_scan"), ("MambaChunkScanCombinedFn", "ssm_scan"),
    ("MambaSplitConv1dScanCombinedFn", "ssm_scan"), ("CausalConv1dFn", "conv1d"),
    ("aten::scaled_dot_product_attention", "attention"), ("aten::_scaled_dot_product_flash_attention", "attention"),
    ("aten::linear", "gemm"), ("aten::addmm", "gemm"), ("aten::conv1d", "conv1d"), ("aten::embedding", "embedding"),
    ("aten::silu", "elementwise"), ("aten::copy_", "memory"), ("aten::cat", "memory"),
]


@pytest.mark.parametrize("name,category", KERNELS, ids=[k[:40] for k, _ in KERNELS])
def test_gpu_kernel_names(name, category):
    assert classify(kernel=name) == category


@pytest.mark.parametrize("name,category", OPS)
def test_operator_names(name, category):
    assert classify(op=name) == category


def test_scopes_and_modules_decide_where_names_cannot():
    # The PyTorch reference Mamba2 path: plain einsum inside the chunk-scan function.
    assert classify(op="aten::einsum", module="Mamba2Mixer", scope="mamba2_chunk_scan") == "ssm_scan"
    assert classify(op="aten::mul", module="Mamba2Mixer", scope="causal_conv1d_fn") == "conv1d"
    assert classify(op="aten::linear", module="Linear", path="lm_head") == "logits"
    assert classify(op="aten::linear", module="Linear", path="model.layers.0.self_attn.q_proj") == "gemm"
    assert classify(op="aten::mul", module="MambaRMSNormGated") == "norm"
    assert classify(op="aten::matmul", module="Qwen2Attention") == "attention"
    assert classify(op="aten::totally_new_op") == "other"
    # the 2026 mixers' PyTorch reference paths (transformers 5.24): the gated delta rule, LFM2's short
    # convolution, RecurrentGemma's RG-LRU and xLSTM's mLSTM cell
    assert classify(op="aten::linalg_solve_triangular", module="Qwen3_5GatedDeltaNet",
                    scope="torch_chunk_gated_delta_rule") == "linear_attention"
    assert classify(op="aten::mul", module="Lfm2ShortConv", scope="causal_conv1d_fn") == "conv1d"
    assert classify(op="aten::baddbmm", module="RecurrentGemmaRglru") == "recurrent_scan"
    assert classify(op="aten::matmul", module="xLSTMBackend") == "recurrent_scan"
    assert classify(op="aten::linear", module="Linear", path="model.blocks.0.mlstm_layer.q") == "gemm"


def test_every_rule_names_a_known_category():
    tax = load()
    assert {r.category for r in tax.rules} <= set(tax.categories)


def test_kernel_and_launch_context_precedence():
    tax = load()
    fused = {"op": "MambaSplitConv1dScanCombinedFn", "module": "Mamba2Mixer"}
    assert tax.classify_kernel("causal_conv1d_fwd_kernel", **fused) == "conv1d"
    assert tax.classify_kernel("_chunk_scan_fwd_kernel", **fused) == "ssm_scan"
    ref = {"op": "aten::einsum", "module": "Mamba2Mixer", "scope": "mamba2_chunk_scan"}
    assert tax.classify_kernel("ampere_fp16_s16816gemm_fp16_128x128_ldg8_f2f_stages_32x5_tn", **ref) == "ssm_scan"
    assert tax.classify_kernel("ampere_fp16_s16816gemm_fp16_128x128_ldg8_f2f_stages_32x5_tn", op="aten::linear",
                               module="Linear", path="lm_head") == "logits"
    assert tax.classify_kernel("sm90_xmma_gemm_bf16bf16", op="aten::linear", module="Linear",
                               path="model.layers.0.mlp.up_proj") == "gemm"
    # RG-LRU runs as generic CUDA kernels: its module decides
    elementwise = "void at::native::vectorized_elementwise_kernel<4, at::native::sigmoid_kernel_cuda>"
    assert tax.classify_kernel(elementwise, op="aten::sigmoid", module="RecurrentGemmaRglru") == "recurrent_scan"


CONV_OPS = ["aten::conv1d", "aten::convolution", "aten::_convolution", "aten::convolution_overrideable",
            "aten::cudnn_convolution", "aten::miopen_convolution", "aten::miopen_depthwise_convolution",
            "aten::mkldnn_convolution", "aten::mps_convolution", "aten::_conv_depthwise2d",
            "aten::_nnpack_spatial_convolution", "aten::slow_conv_dilated2d", "aten::_slow_conv2d_forward",
            "aten::thnn_conv2d", "aten::conv_tbc"]


@pytest.mark.parametrize("op", CONV_OPS)
def test_a_convolution_is_conv1d_whichever_backend_op_launched_it(op):
    # issue 28: cuDNN's implicit-GEMM kernels look like GEMMs; the aten op that launched them says conv
    tax = load()
    assert tax.classify(op=op) == "conv1d"
    assert tax.classify_kernel("sm90_xmma_fprop_implicit_gemm_indexed_f16f16_f16f32_f32_nhwckrsc_nhwc", op=op,
                               module="Mamba2Mixer") == "conv1d"


def test_a_kernel_inside_a_convolution_module_is_conv1d_whatever_its_name():
    tax = load()
    assert tax.classify_kernel("cutlass_80_tensorop_s16816gemm_f16_64x64_32x6_nn_align8", op="aten::add",
                               module="Conv1d") == "conv1d"
    assert tax.classify(op="aten::_convert_indices_from_coo_to_csr") != "conv1d"  # 'conv' alone is not a conv
