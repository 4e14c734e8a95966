#include "kernels/cpu/DnnlConvolution.h"

#ifdef COHORT_WITH_DNNL

#include <oneapi/dnnl/dnnl.hpp>

#include <initializer_list>
#include <utility>
#include <vector>

#include "kernels/ShapeChecks.h"
#include "kernels/cpu/CpuConvolution.h"

namespace cohort::kernels::cpu_detail {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
// A primitive's arguments as the C API takes them, built once: the C++ execute() converts its map
// into a fresh vector at every call, which would be a heap allocation per step.
using Args = std::vector<dnnl_exec_arg_t>;

Args argsOf(std::initializer_list<std::pair<int, const memory*>> list) {
    Args args;
    for (const auto& [name, value] : list) args.push_back({name, value->get()});
    return args;
}

void run(const dnnl::primitive& primitive, dnnl::stream& stream, const Args& args) {
    dnnl::error::wrap_c_api(dnnl_primitive_execute(primitive.get(), stream.get(), int(args.size()), args.data()),
                            "could not execute a oneDNN primitive");
}

// One tensor as cohort holds it (plain layout, the caller's pointer) and as a primitive wants it
// (oneDNN's layout, in the workspace at `offset`), with the reorder between the two when they
// differ. Without a reorder both are the caller's buffer.
struct Staged {
    memory plain;
    memory chosen;
    bool reordered = false;
    std::size_t offset = 0;
    dnnl::reorder reorder;
    Args reorderArgs;

    // `toChosen`: the data flows plain -> chosen (an input), else chosen -> plain (an output).
    Staged(const dnnl::engine& engine, const memory::desc& plainDesc, const memory::desc& chosenDesc, bool toChosen,
           std::size_t& workspaceEnd)
        : plain(plainDesc, engine, DNNL_MEMORY_NONE), reordered(plainDesc != chosenDesc) {
        if (!reordered) {
            chosen = plain;
            return;
        }
        chosen = memory(chosenDesc, engine, DNNL_MEMORY_NONE);
        offset = workspaceEnd;
        workspaceEnd += alignUp(chosenDesc.get_size());
        reorder = toChosen ? dnnl::reorder(plain, chosen) : dnnl::reorder(chosen, plain);
        reorderArgs = toChosen ? argsOf({{DNNL_ARG_FROM, &plain}, {DNNL_ARG_TO, &chosen}})
                               : argsOf({{DNNL_ARG_FROM, &chosen}, {DNNL_ARG_TO, &plain}});
    }

    void point(const void* user, void* workspace) {
        plain.set_data_handle(const_cast<void*>(user));
        if (reordered) chosen.set_data_handle(static_cast<char*>(workspace) + offset);
    }

    // Moves the data the way it flows (an input into oneDNN's layout, an output out of it).
    void convert(dnnl::stream& stream) const {
        if (reordered) run(reorder, stream, reorderArgs);
    }
};

struct ForwardPlan {
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward primitive;
    std::unique_ptr<Staged> x, weights, y;
    memory bias, scratchpad;
    std::size_t scratchpadOffset = 0;
    std::vector<float> zeroBias;  // stands in for a null bias
    Args args;
    std::size_t bytes = 0;
};

struct BackwardPlan {
    dnnl::convolution_backward_weights::primitive_desc weightsPd;
    dnnl::convolution_backward_data::primitive_desc dataPd;
    dnnl::convolution_backward_weights weightsPrimitive;
    dnnl::convolution_backward_data dataPrimitive;
    std::unique_ptr<Staged> x, dyForWeights, ownDyForData, weights, dweights, dx;
    Staged* dyForData = nullptr;  // dyForWeights itself when both primitives want dy alike
    bool xFromForward = false;  // the forward's workspace holds x in the format backward-weights wants
    memory dbias, scratchpad;
    std::size_t scratchpadOffset = 0;
    std::vector<float> unusedBiasGradient;  // stands in for a null dbias
    Args weightsArgs, dataArgs;
    std::size_t bytes = 0;
};

}  // namespace

struct DnnlConvolutions::Impl {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};
    struct Entry {
        ConvolutionShape shape;
        std::unique_ptr<ForwardPlan> forward;
        std::unique_ptr<BackwardPlan> backward;
    };
    std::vector<Entry> entries;

    Entry& entryFor(const ConvolutionShape& s) {
        for (Entry& entry : entries)
            if (entry.shape == s) return entry;
        entries.push_back(Entry{s, nullptr, nullptr});
        Entry& entry = entries.back();
        build(entry);
        return entry;
    }

    void build(Entry& entry) {
        const ConvolutionShape& s = entry.shape;
        const memory::dims xDims{s.batch, s.inChannels, s.height, s.width};
        const memory::dims wDims{s.outChannels, s.inChannels, s.kernel, s.kernel};
        const memory::dims yDims{s.batch, s.outChannels, s.outHeight(), s.outWidth()};
        const memory::dims strides{s.stride, s.stride}, padding{s.padding, s.padding};
        const auto f32 = memory::data_type::f32;
        const memory::desc xPlain(xDims, f32, Tag::nchw), wPlain(wDims, f32, Tag::oihw), yPlain(yDims, f32, Tag::nchw);
        const memory::desc bias({s.outChannels}, f32, Tag::x);
        const memory::desc xAny(xDims, f32, Tag::any), wAny(wDims, f32, Tag::any), yAny(yDims, f32, Tag::any);
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

        auto forward = std::make_unique<ForwardPlan>();
        forward->pd = dnnl::convolution_forward::primitive_desc(
            dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, xAny,
                                            wAny, bias, yAny, strides, padding, padding),
            attr, engine);
        forward->primitive = dnnl::convolution_forward(forward->pd);
        std::size_t end = 0;
        forward->x = std::make_unique<Staged>(engine, xPlain, forward->pd.src_desc(), true, end);
        forward->weights = std::make_unique<Staged>(engine, wPlain, forward->pd.weights_desc(), true, end);
        forward->y = std::make_unique<Staged>(engine, yPlain, forward->pd.dst_desc(), false, end);
        forward->bias = memory(bias, engine, DNNL_MEMORY_NONE);
        forward->zeroBias.assign(std::size_t(s.outChannels), 0.0f);
        forward->scratchpad = memory(forward->pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
        forward->scratchpadOffset = end;
        forward->bytes = end + alignUp(forward->pd.scratchpad_desc().get_size());
        forward->args = argsOf({{DNNL_ARG_SRC, &forward->x->chosen},
                                {DNNL_ARG_WEIGHTS, &forward->weights->chosen},
                                {DNNL_ARG_BIAS, &forward->bias},
                                {DNNL_ARG_DST, &forward->y->chosen},
                                {DNNL_ARG_SCRATCHPAD, &forward->scratchpad}});

        auto backward = std::make_unique<BackwardPlan>();
        backward->weightsPd = dnnl::convolution_backward_weights::primitive_desc(
            dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, xAny, wAny, bias, yAny, strides,
                                                     padding, padding),
            attr, engine, forward->pd);
        backward->dataPd = dnnl::convolution_backward_data::primitive_desc(
            dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, xAny, wAny, yAny, strides, padding,
                                                  padding),
            attr, engine, forward->pd);
        backward->weightsPrimitive = dnnl::convolution_backward_weights(backward->weightsPd);
        backward->dataPrimitive = dnnl::convolution_backward_data(backward->dataPd);
        end = 0;
        backward->xFromForward = backward->weightsPd.src_desc() == forward->pd.src_desc();
        backward->x = std::make_unique<Staged>(engine, xPlain, backward->weightsPd.src_desc(), true, end);
        backward->dyForWeights = std::make_unique<Staged>(engine, yPlain, backward->weightsPd.diff_dst_desc(), true, end);
        if (backward->dataPd.diff_dst_desc() == backward->weightsPd.diff_dst_desc()) {
            backward->dyForData = backward->dyForWeights.get();
        } else {
            backward->ownDyForData = std::make_unique<Staged>(engine, yPlain, backward->dataPd.diff_dst_desc(), true, end);
            backward->dyForData = backward->ownDyForData.get();
        }
        backward->weights = std::make_unique<Staged>(engine, wPlain, backward->dataPd.weights_desc(), true, end);
        backward->dweights = std::make_unique<Staged>(engine, wPlain, backward->weightsPd.diff_weights_desc(), false, end);
        backward->dx = std::make_unique<Staged>(engine, xPlain, backward->dataPd.diff_src_desc(), false, end);
        backward->dbias = memory(bias, engine, DNNL_MEMORY_NONE);
        backward->unusedBiasGradient.assign(std::size_t(s.outChannels), 0.0f);
        const memory::desc scratch = backward->weightsPd.scratchpad_desc().get_size() >=
                                             backward->dataPd.scratchpad_desc().get_size()
                                         ? backward->weightsPd.scratchpad_desc()
                                         : backward->dataPd.scratchpad_desc();
        backward->scratchpad = memory(scratch, engine, DNNL_MEMORY_NONE);
        backward->scratchpadOffset = end;
        backward->bytes = end + alignUp(scratch.get_size());
        backward->weightsArgs = argsOf({{DNNL_ARG_SRC, &backward->x->chosen},
                                        {DNNL_ARG_DIFF_DST, &backward->dyForWeights->chosen},
                                        {DNNL_ARG_DIFF_WEIGHTS, &backward->dweights->chosen},
                                        {DNNL_ARG_DIFF_BIAS, &backward->dbias},
                                        {DNNL_ARG_SCRATCHPAD, &backward->scratchpad}});
        backward->dataArgs = argsOf({{DNNL_ARG_DIFF_DST, &backward->dyForData->chosen},
                                     {DNNL_ARG_WEIGHTS, &backward->weights->chosen},
                                     {DNNL_ARG_DIFF_SRC, &backward->dx->chosen},
                                     {DNNL_ARG_SCRATCHPAD, &backward->scratchpad}});
        entry.forward = std::move(forward);
        entry.backward = std::move(backward);
    }
};

DnnlConvolutions::DnnlConvolutions() : impl_(std::make_unique<Impl>()) {}
DnnlConvolutions::~DnnlConvolutions() = default;

std::size_t DnnlConvolutions::workspaceBytes(const ConvolutionShape& shape, ConvolutionPass pass) {
    requireShape(shape, "convolutionWorkspaceBytes");
    Impl::Entry& entry = impl_->entryFor(shape);
    return pass == ConvolutionPass::Forward ? entry.forward->bytes : entry.backward->bytes;
}

void DnnlConvolutions::forward(const ConvolutionShape& shape, const float* x, const float* weights, const float* bias,
                               float* y, void* workspace, std::size_t workspaceBytes) {
    requireShape(shape, "convolutionForward");
    ForwardPlan& plan = *impl_->entryFor(shape).forward;
    requireWorkspace(plan.bytes, workspaceBytes, "convolutionForward");
    plan.x->point(x, workspace);
    plan.weights->point(weights, workspace);
    plan.y->point(y, workspace);
    // (Offsets were worked out with the plan: primitive_desc queries build vectors on the heap.)
    plan.scratchpad.set_data_handle(static_cast<char*>(workspace) + plan.scratchpadOffset);
    plan.bias.set_data_handle(bias != nullptr ? const_cast<float*>(bias) : plan.zeroBias.data());
    plan.x->convert(impl_->stream);
    plan.weights->convert(impl_->stream);
    run(plan.primitive, impl_->stream, plan.args);
    plan.y->convert(impl_->stream);
    impl_->stream.wait();
}

void DnnlConvolutions::backward(const ConvolutionShape& shape, const float* x, const float* weights, const float* dy,
                                float* dx, float* dweights, float* dbias, const void* forwardWorkspace, void* workspace,
                                std::size_t workspaceBytes) {
    requireShape(shape, "convolutionBackward");
    Impl::Entry& entry = impl_->entryFor(shape);
    BackwardPlan& plan = *entry.backward;
    requireWorkspace(plan.bytes, workspaceBytes, "convolutionBackward");
    plan.x->point(x, workspace);
    const bool reuseX = plan.x->reordered && plan.xFromForward && forwardWorkspace != nullptr;
    if (reuseX) {  // the forward left x in this very format at its offset
        plan.x->chosen.set_data_handle(const_cast<char*>(static_cast<const char*>(forwardWorkspace)) +
                                       entry.forward->x->offset);
    }
    plan.dyForWeights->point(dy, workspace);
    if (plan.ownDyForData) plan.ownDyForData->point(dy, workspace);
    plan.weights->point(weights, workspace);
    plan.dweights->point(dweights, workspace);
    plan.dx->point(dx, workspace);
    plan.scratchpad.set_data_handle(static_cast<char*>(workspace) + plan.scratchpadOffset);
    plan.dbias.set_data_handle(dbias != nullptr ? dbias : plan.unusedBiasGradient.data());
    if (!reuseX) plan.x->convert(impl_->stream);
    plan.dyForWeights->convert(impl_->stream);
    run(plan.weightsPrimitive, impl_->stream, plan.weightsArgs);
    plan.dweights->convert(impl_->stream);
    if (dx != nullptr) {
        if (plan.ownDyForData) plan.ownDyForData->convert(impl_->stream);
        plan.weights->convert(impl_->stream);
        run(plan.dataPrimitive, impl_->stream, plan.dataArgs);
        plan.dx->convert(impl_->stream);
    }
    impl_->stream.wait();
}

bool haveDnnl() { return true; }

}  // namespace cohort::kernels::cpu_detail

#else  // without oneDNN: never constructed (haveDnnl() is false)

#include <stdexcept>

namespace cohort::kernels::cpu_detail {

struct DnnlConvolutions::Impl {};
DnnlConvolutions::DnnlConvolutions() { throw std::logic_error("cohort was built without oneDNN"); }
DnnlConvolutions::~DnnlConvolutions() = default;
std::size_t DnnlConvolutions::workspaceBytes(const ConvolutionShape&, ConvolutionPass) { return 0; }
void DnnlConvolutions::forward(const ConvolutionShape&, const float*, const float*, const float*, float*, void*,
                               std::size_t) {}
void DnnlConvolutions::backward(const ConvolutionShape&, const float*, const float*, const float*, float*, float*,
                                float*, const void*, void*, std::size_t) {}
bool haveDnnl() { return false; }

}  // namespace cohort::kernels::cpu_detail

#endif
