// The bucket plan: whole layers, from the last layer backwards, each bucket at least the size
// asked for (but the first layers' one), together covering the flat buffer exactly.
#include <gtest/gtest.h>

#include "parallel/GradientBuckets.h"
#include "parallel/ParallelTestSupport.h"
#include "src/nn/ActivationLayer.h"
#include "src/nn/Dense.h"
#include "src/nn/Flatten.h"

namespace cohort::parallel {
namespace {

std::int64_t layerEnd(const nn::Model& model, std::size_t layer) {
    return layer + 1 < model.layerCount() ? model.parameterOffset(layer + 1) : model.parameterCount();
}

// What every plan must be, whatever the size.
void expectWellFormed(const nn::Model& model, const std::vector<GradientBucket>& buckets, std::int64_t bucketBytes) {
    ASSERT_FALSE(buckets.empty());
    const auto element = std::int64_t(kernels::sizeOf(model.dtype()));
    // Bucket 0 holds the last layer and ends the buffer; each next one ends where the previous began.
    EXPECT_EQ(buckets.front().lastLayer, model.layerCount() - 1);
    EXPECT_EQ(buckets.front().begin + buckets.front().count, model.parameterCount());
    EXPECT_EQ(buckets.back().firstLayer, 0u);
    EXPECT_EQ(buckets.back().begin, 0);
    for (std::size_t b = 0; b < buckets.size(); ++b) {
        const GradientBucket& bucket = buckets[b];
        SCOPED_TRACE("bucket " + std::to_string(b) + " of " + std::to_string(buckets.size()));
        ASSERT_LE(bucket.firstLayer, bucket.lastLayer);
        // Aligned to layers: it starts at its first layer's block and ends at its last one's end.
        EXPECT_EQ(bucket.begin, model.parameterOffset(bucket.firstLayer));
        EXPECT_EQ(bucket.begin + bucket.count, layerEnd(model, bucket.lastLayer));
        if (b + 1 < buckets.size()) {
            EXPECT_EQ(buckets[b + 1].lastLayer + 1, bucket.firstLayer);
            EXPECT_EQ(buckets[b + 1].begin + buckets[b + 1].count, bucket.begin);
            // Full, and closed as soon as it was: without its first layer it would not be.
            EXPECT_GE(bucket.count * element, bucketBytes);
            EXPECT_LT((layerEnd(model, bucket.lastLayer) - layerEnd(model, bucket.firstLayer)) * element, bucketBytes);
        }
        // Ready once backward() passed its first layer with parameters.
        EXPECT_GE(bucket.readyAfterLayer, bucket.firstLayer);
        EXPECT_LE(bucket.readyAfterLayer, bucket.lastLayer);
        if (bucket.count > 0) {
            EXPECT_GT(layerEnd(model, bucket.readyAfterLayer), model.parameterOffset(bucket.readyAfterLayer));
        }
        for (std::size_t layer = bucket.firstLayer; layer < bucket.readyAfterLayer; ++layer) {
            EXPECT_EQ(layerEnd(model, layer), model.parameterOffset(layer)) << "layer " << layer << " has parameters";
        }
    }
}

// flatten | dense 36->24 tanh | dense 24->16 | relu | dense 16->5: two layers without parameters.
std::unique_ptr<nn::Model> makeMixedModel() {
    std::vector<std::unique_ptr<nn::Layer>> layers;
    layers.push_back(std::make_unique<nn::Flatten>());
    layers.push_back(std::make_unique<nn::Dense>(24, kernels::Activation::Tanh));
    layers.push_back(std::make_unique<nn::Dense>(16, kernels::Activation::Identity));
    layers.push_back(std::make_unique<nn::ActivationLayer>(kernels::Activation::Relu));
    layers.push_back(std::make_unique<nn::Dense>(5, kernels::Activation::Identity));
    return std::make_unique<nn::Model>(std::move(layers), Shape{1, 6, 6});
}

TEST(GradientBuckets, AreWholeLayersFromTheLastCoveringTheBufferExactly) {
    for (auto* build : {+[] { return testing_support::makeModel(); },
                        +[] { return testing_support::makeBatchNormModel(); }, +[] { return makeMixedModel(); }}) {
        const auto model = build();
        for (std::int64_t bytes : {std::int64_t(1), std::int64_t(64), std::int64_t(400), std::int64_t(1500),
                                   std::int64_t(4096), std::int64_t(1) << 30}) {
            SCOPED_TRACE(model->describe() + ", " + std::to_string(bytes) + " bytes");
            expectWellFormed(*model, planGradientBuckets(*model, bytes), bytes);
        }
    }
}

TEST(GradientBuckets, OneByteGivesALayerWithParametersPerBucketAndAnyLargeSizeOneBucket) {
    const auto model = makeMixedModel();  // parameters in layers 1, 2 and 4
    const auto each = planGradientBuckets(*model, 1);
    ASSERT_EQ(each.size(), 3u);
    EXPECT_EQ(each[0].firstLayer, 4u);
    EXPECT_EQ(each[0].lastLayer, 4u);
    EXPECT_EQ(each[0].readyAfterLayer, 4u);
    EXPECT_EQ(each[1].firstLayer, 2u);  // the ReLU joins the dense layer before it
    EXPECT_EQ(each[1].lastLayer, 3u);
    EXPECT_EQ(each[1].readyAfterLayer, 2u);
    EXPECT_EQ(each[2].firstLayer, 0u);  // the flatten joins the first dense layer's bucket
    EXPECT_EQ(each[2].lastLayer, 1u);
    EXPECT_EQ(each[2].readyAfterLayer, 1u);

    const auto one = planGradientBuckets(*model, std::int64_t(1) << 40);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0].begin, 0);
    EXPECT_EQ(one[0].count, model->parameterCount());
    EXPECT_EQ(one[0].readyAfterLayer, 1u);
}

TEST(GradientBuckets, RefusesAnEmptyBucket) {
    const auto model = makeMixedModel();
    EXPECT_THROW(planGradientBuckets(*model, 0), std::invalid_argument);
}

}  // namespace
}  // namespace cohort::parallel
