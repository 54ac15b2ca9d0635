"""CBLUE (Chinese Biomedical Language Understanding Evaluation) metadata shared by its corpora
(CMeEE, CMeIE, CHIP-CDEE): one registration page on Tianchi, one set of terms, one citation."""

HOMEPAGE = "https://tianchi.aliyun.com/dataset/95414"
LICENSE = "Tianchi / CBLUE terms (research use after registration; no license stated in the files)"
CITATION = (
    "@inproceedings{zhang2022cblue,\n  title={{CBLUE}: A {C}hinese Biomedical Language Understanding Evaluation "
    "Benchmark},\n  author={Zhang, Ningyu and Chen, Mosha and Bi, Zhen and Liang, Xiaozhuan and Li, Lei and Shang, "
    "Xin and Yin, Kangping and Tan, Chuanqi and Xu, Jian and Huang, Fei and Si, Luo and Ni, Yuan and Xie, Guotong "
    "and Sui, Zhifang and Chang, Baobao and Zong, Hui and Yuan, Zheng and Li, Linfeng and Yan, Jun and Zan, "
    "Hongying and Zhang, Kunli and Tang, Buzhou and Chen, Qingcai},\n  booktitle={ACL},\n  year={2022}\n}"
)
