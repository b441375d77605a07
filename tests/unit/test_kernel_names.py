"""Today's GPU kernel names, each with where it comes from, classified by name and by the
context that launched it (op, module, scope), the way a real trace presents them. A generic or
new name is decided by its launching op or scope: a convolution op's kernel is conv1d whatever
cuDNN calls it, a kernel inside the SSM mixer's scan functions is ssm_scan."""

import pytest

from helpers import ev
from kernels_profile.attribute import attribute
from kernels_profile.taxonomy import load

SSM_SCOPE = {"scope": "segment_sum", "module": "Mamba2Mixer", "op": "aten::cumsum"}
TRIL_SCOPE = {"scope": "segment_sum", "module": "Mamba2Mixer", "op": "aten::tril"}

# (kernel name, launching context, category, source)
NAMES = [
    # cuBLAS 12.8+ GEMMs on Hopper / Blackwell
    ("nvjet_sm90_hss_320x128", {"op": "aten::mm"}, "gemm",
     "GindaChen/nsys-ai PR #582 (Hopper cuBLAS GEMMs named nvjet_*)"),
    ("nvjet_sm100_tst_64x16_64x16_2x4_2cta_h_bz_splitK_TNT", {"op": "aten::linear"}, "gemm",
     "public nsys kernel summary of an sm_100 (Blackwell) FP4/BF16 serving run"),
    ("nvjet_sm120_tst_mma_64x64x128_3_32x32x128_tmaAB_alignCD4_bz_TNNN", {"op": "aten::linear"}, "gemm",
     "public nsys kernel table of a bf16 GEMM on sm_120 (cuBLAS TMA path)"),
    ("void cutlass::Kernel2<cutlass_80_tensorop_bf16_s16816gemm_relu_bf16_256x128_32x3_tn_align8>("
     "cutlass_80_tensorop_bf16_s16816gemm_relu_bf16_256x128_32x3_tn_align8::Params)", {"op": "aten::addmm"}, "gemm",
     "cuBLASLt's CUTLASS kernels as nsys lists them (QKV/MLP GEMMs)"),
    ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x256x64_warpgroupsize2x1x1_execute_segment_k_off_kernel"
     "__5x_cublas", {"op": "aten::mm"}, "gemm", "cuBLAS 12 sm90 xmma GEMM (torch.profiler on H100)"),
    # cuDNN convolutions as implicit GEMMs: the conv op decides
    ("sm80_xmma_fprop_implicit_gemm_f16f16_f16f32_f32_nhwckrsc_nhwc_tilesize128x32x32_stage4_warpsize4x1x1_g1_"
     "tensor16x8x16_execute_kernel__5x_cudnn", {"op": "aten::conv1d", "module": "Conv1d"}, "conv1d",
     "cuDNN 9 fprop kernel in a public nsys analysis"),
    ("sm86_xmma_fprop_implicit_gemm_bf16bf16_bf16f32_f32_nhwckrsc_nhwc_tilesize64x32x64_stage5_warpsize2x1x1_g1_"
     "tensor16x8x16_kernel", {"op": "aten::conv1d"}, "conv1d", "cuDNN sm86 tactic family named in TensorRT build logs"),
    ("void cudnn::detail::implicit_convolve_sgemm<float, float, 128, 6, 7, 3, 3, 5, 1, true, false, true>(int, int, "
     "int, float const*, int, float*, float*, kernel_conv_params, int, float, float, int, float*, float*, int, int)",
     {"op": "aten::convolution"}, "conv1d", "cuDNN 7/8 kernel_stats of a TensorFlow profile (public repository)"),
    # Triton-fused activations and Inductor kernels
    ("_swiglu_fwd_kernel", {"module": "MambaMLP"}, "elementwise",
     "state-spaces/mamba mamba_ssm/ops/triton/k_activations.py"),
    ("triton_poi_fused_add_cat_clone_mul_4", {}, "elementwise",
     "Inductor pointwise kernel (triton_poi_), named in sapmitra/SSM-characterization's operator lists"),
    ("triton_red_fused__to_copy_add_mean_mul_pow_rsqrt_7", {}, "elementwise",
     "Inductor reduction kernel (triton_red_), same source"),
    ("triton_per_fused__softmax_0", {}, "elementwise", "Inductor persistent reduction (triton_per_)"),
    ("triton_poi_fused__to_copy_2", {}, "memory",
     "an Inductor copy-only kernel (sapmitra/SSM-characterization: memory)"),
    ("triton_poi_fused_clone_5", {}, "memory", "same source"),
    ("triton_tem_fused_addmm_t_view_3", {}, "gemm", "Inductor max-autotune matmul template (triton_tem_)"),
    ("triton_tem_fused_flex_attention_0", {}, "attention", "Inductor flex_attention template"),
    # scans and masks of the PyTorch reference SSM path: the scope decides
    ("void at::native::tensor_kernel_scan_innermost_dim<float, std::plus<float> >(float*, float const*, unsigned int, "
     "unsigned int, unsigned int, float, std::plus<float>)", SSM_SCOPE, "ssm_scan",
     "pytorch/pytorch aten/src/ATen/native/cuda/ScanUtils.cuh (cumsum), as nsys prints it"),
    ("void at_cuda_detail::cub::DeviceScanKernel<at_cuda_detail::cub::DeviceScanPolicy<float, float, float, unsigned "
     "int, std::plus<float> >::Policy900, float const*, float*>", SSM_SCOPE, "ssm_scan",
     "cub's DeviceScanKernel, launched by torch.cumsum on long rows"),
    ("void at::native::triu_tril_kernel<float, int, false, 2, false>(at::cuda::detail::TensorInfo<float, int>, "
     "at::cuda::detail::TensorInfo<float const, int>, long, long, int)", TRIL_SCOPE, "ssm_scan",
     "pytorch/pytorch aten/src/ATen/native/cuda/TriangularOps.cu"),
    # the same kernels outside an SSM mixer keep their own kind
    ("void at::native::tensor_kernel_scan_innermost_dim<float, std::plus<float> >(float*, float const*, unsigned int, "
     "unsigned int, unsigned int, float, std::plus<float>)", {"op": "aten::cumsum"}, "elementwise", "as above"),
    ("void at::native::triu_tril_kernel<bool, int, true, 8, false>(at::cuda::detail::TensorInfo<bool, int>, "
     "at::cuda::detail::TensorInfo<bool const, int>, long, long, int)", {"op": "aten::triu"}, "memory",
     "an attention mask's triu, as above"),
    # flash-attention 2 (incl. split-KV decode) and 3, PyTorch SDPA backends
    ("void flash_fwd_splitkv_kernel<Flash_fwd_kernel_traits<128, 64, 128, 4, false, false, cutlass::bfloat16_t>, "
     "false, false, false, false, true, true, false, false, false>(Flash_fwd_params)", {"op": "FlashAttnFunc"},
     "attention", "Dao-AILab/flash-attention csrc/flash_attn/src/flash_fwd_launch_template.h"),
    ("void flash_fwd_splitkv_combine_kernel<Flash_fwd_kernel_traits<128, 64, 128, 4, false, false, "
     "cutlass::bfloat16_t>, 4, 7, true>(Flash_fwd_params)", {}, "attention", "same file"),
    ("void cutlass::device_kernel<flash::enable_sm90_or_later<flash::FlashAttnFwdSm90<flash::CollectiveMainloopFwdSm90"
     "<2, cute::tuple<cute::C<1>, cute::C<1>, cute::C<1> >, cute::tuple<cute::C<128>, cute::C<128>, cute::C<128> >, "
     "128, cutlass::bfloat16_t, float, cutlass::arch::Sm90, true, false, false, false, false, false, true, false, "
     "false, true, true, false, false>>>>(...)", {}, "attention",
     "Dao-AILab/flash-attention hopper/flash_fwd_kernel_sm90.h (FlashAttention-3)"),
    ("void cutlass::device_kernel<flash::enable_sm90_or_later<flash::FlashAttnFwdCombine<cute::tuple<cute::C<8>, "
     "cute::C<128> >, 7, 256, 1, false, true, cutlass::bfloat16_t, float, cutlass::arch::Sm90>>>(...)", {},
     "attention", "Dao-AILab/flash-attention hopper/flash_fwd_combine_kernel.h"),
    ("void pytorch_flash::flash_fwd_kernel<pytorch_flash::Flash_fwd_kernel_traits<64, 128, 64, 4, false, false, "
     "cutlass::bfloat16_t> >(pytorch_flash::Flash_fwd_params)", {"op": "aten::_scaled_dot_product_flash_attention"},
     "attention", "pytorch/pytorch aten/src/ATen/native/transformers/cuda/flash_attn"),
    ("fmha_cutlassF_f16_aligned_64x64_rf_sm80(PyTorchMemEffAttention::AttentionKernel<cutlass::half_t, "
     "cutlass::arch::Sm80, true, 64, 64, 64, true, true>::Params)", {"op": "aten::_efficient_attention_forward"},
     "attention", "pytorch/pytorch mem_eff_attention (nsys on an A100)"),
    ("void at::native::(anonymous namespace)::cunn_SoftMaxForward<4, float, float, float, "
     "at::native::(anonymous namespace)::SoftMaxForwardEpilogue>(float*, float const*, int)",
     {"op": "aten::scaled_dot_product_attention"}, "attention", "SDPA's math backend: its softmax kernel"),
    # mamba-ssm, Triton and CUDA, prefill and decode
    ("void selective_scan_fwd_kernel<Selective_Scan_fwd_kernel_traits<32, 16, 1, true, true, true, true, c10::Half, "
     "float, c10::Half> >(SSMParamsBase)", {"op": "MambaInnerFn"}, "ssm_scan",
     "state-spaces/mamba csrc/selective_scan/selective_scan_fwd_kernel.cuh"),
    ("_chunk_cumsum_fwd_kernel", {"op": "MambaSplitConv1dScanCombinedFn"}, "ssm_scan",
     "state-spaces/mamba mamba_ssm/ops/triton/ssd_chunk_state.py"),
    ("_bmm_chunk_fwd_kernel", {"op": "MambaSplitConv1dScanCombinedFn"}, "ssm_scan", "mamba_ssm/ops/triton/ssd_bmm.py"),
    ("_chunk_scan_fwd_kernel", {"op": "MambaSplitConv1dScanCombinedFn"}, "ssm_scan",
     "mamba_ssm/ops/triton/ssd_chunk_scan.py"),
    ("_selective_scan_update_kernel", {"module": "Mamba2Mixer"}, "ssm_scan",
     "mamba_ssm/ops/triton/selective_state_update.py (decode)"),
    ("_layer_norm_fwd_1pass_kernel", {"module": "MambaRMSNormGated"}, "norm",
     "mamba_ssm/ops/triton/layernorm_gated.py"),
    # causal-conv1d, prefill and decode
    ("void causal_conv1d_fwd_kernel<Causal_conv1d_fwd_kernel_traits<128, 4, true, c10::BFloat16, c10::BFloat16> >"
     "(ConvParamsBase)", {"op": "MambaSplitConv1dScanCombinedFn"}, "conv1d",
     "Dao-AILab/causal-conv1d csrc/causal_conv1d_fwd.cu"),
    ("void causal_conv1d_update_kernel<Causal_conv1d_update_kernel_traits<64, 4, c10::BFloat16, c10::BFloat16> >"
     "(ConvParamsBase)", {"module": "Mamba2Mixer"}, "conv1d", "Dao-AILab/causal-conv1d csrc/causal_conv1d_update.cu"),
    # flash-linear-attention: gated DeltaNet (Qwen3.5-style layers)
    ("chunk_gated_delta_rule_fwd_kernel_h_blockdim64", {"op": "ChunkGatedDeltaRuleFunction"}, "linear_attention",
     "fla-org/flash-linear-attention fla/ops/common/chunk_delta_h.py"),
    ("chunk_fwd_kernel_o", {"op": "ChunkGatedDeltaRuleFunction"}, "linear_attention", "fla/ops/common/chunk_o.py"),
    ("recompute_w_u_fwd_kernel", {}, "linear_attention", "fla/ops/gated_delta_rule/wy_fast.py"),
    ("chunk_scaled_dot_kkt_fwd_kernel", {}, "linear_attention", "fla/ops/common/chunk_scaled_dot_kkt.py"),
    ("solve_tril_16x16_kernel", {}, "linear_attention", "fla/ops/utils/solve_tril.py"),
    ("merge_16x16_to_64x64_inverse_kernel", {}, "linear_attention", "fla/ops/utils/solve_tril.py"),
    ("chunk_local_cumsum_scalar_kernel", {}, "linear_attention", "fla/ops/utils/cumsum.py"),
    ("fused_recurrent_gated_delta_rule_fwd_kernel", {}, "linear_attention",
     "fla/ops/gated_delta_rule/fused_recurrent.py (decode)"),
    ("l2norm_fwd_kernel", {"op": "ChunkGatedDeltaRuleFunction"}, "linear_attention",
     "fla/modules/l2norm.py, inside the gated DeltaNet Function"),
    ("l2norm_fwd_kernel", {}, "norm", "fla/modules/l2norm.py on its own"),
]


@pytest.mark.parametrize("kernel,context,category,source", NAMES, ids=[f"{n[:36]}-{c}" for n, _, c, _ in NAMES])
def test_real_kernel_names_in_their_launching_context(kernel, context, category, source):
    assert source  # every name says where it comes from
    assert load().classify_kernel(kernel, **context) == category


def names_trace(names=None):
    """Every name above launched from its context, as torch.profiler writes a GPU trace."""
    events, t = [], 0
    for i, (kernel, ctx, _, _) in enumerate(names or NAMES):
        if ctx.get("module"):
            events.append(ev(f"module: model.layers.{i}.mixer ({ctx['module']})", "user_annotation", t, 10))
        if ctx.get("scope"):
            events.append(ev(f"fn: {ctx['scope']}", "user_annotation", t + 1, 8))
        if ctx.get("op"):
            events.append(ev(ctx["op"], "cpu_op", t + 2, 6))
        events.append(ev("cudaLaunchKernel", "cuda_runtime", t + 3, 1, correlation=i + 1))
        events.append(ev(kernel, "kernel", 100_000 + 10 * i, 5 + i, tid=7, pid=0, correlation=i + 1))
        t += 20
    return {"traceEvents": events}


def test_a_trace_of_todays_names_is_covered():
    dev = attribute(names_trace())["device"]
    assert dev.coverage >= 0.98, dev.unclassified_top
    want: dict[str, float] = {}
    for i, (_, _, category, _) in enumerate(NAMES):
        want[category] = want.get(category, 0) + (5 + i) / 1e6
    assert {c: round(v, 9) for c, v in dev.categories.items() if v} == {c: round(v, 9) for c, v in want.items()}
